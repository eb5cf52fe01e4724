"""What the learner's reports.py imports: a session factory for jobs, the file storage,
the renderer and the storage's transient error. The grader points them at the current
run's database and storage before calling the learner's code."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfkata.katas.report_worker import data
from perfkata.katas.report_worker.store import Tally


class NetworkError(Exception):
    """The storage did not answer: transient, worth retrying later."""


@dataclass(frozen=True)
class FaultPlan:
    """Which uploads fail, by file key and attempt number (1 = first)."""

    flaky: frozenset[str] = frozenset()
    doomed: frozenset[str] = frozenset()
    ambiguous: str | None = None

    @classmethod
    def of(cls, dataset: data.ReportData) -> FaultPlan:
        return cls(
            frozenset(data.file_key(i) for i in dataset.flaky),
            frozenset(data.file_key(i) for i in dataset.doomed),
            data.file_key(dataset.ambiguous),
        )


class Storage:
    """An object store with network latency that counts every upload per key, so a
    duplicate upload is visible, and fails the uploads its fault plan names."""

    def __init__(self, tally: Tally, plan: FaultPlan, latency: float) -> None:
        self.tally, self.plan, self.latency = tally, plan, latency
        self.on_upload: list[Any] = []  # hooks run after a file is stored (the kill switch)

    def upload(self, key: str, content: bytes) -> None:
        attempt = self.tally.incr(f"put-attempt:{key}")
        time.sleep(self.latency)
        if key in self.plan.doomed or (attempt == 1 and key in self.plan.flaky):
            raise NetworkError(f"upload of {key} timed out")
        self.tally.put(f"file:{key}", content)
        self.tally.incr(f"upload:{key}")
        for hook in self.on_upload:
            hook(key)
        if attempt == 1 and key == self.plan.ambiguous:
            raise NetworkError(f"connection reset after sending {key}")  # it was stored

    def exists(self, key: str) -> bool:
        self.tally.incr(f"exists:{key}")  # a duplicate upload's advice depends on it
        time.sleep(self.latency / 5)  # a HEAD request is cheaper than a PUT
        return self.tally.get(f"file:{key}") is not None

    def download(self, key: str) -> bytes | None:
        return self.tally.get(f"file:{key}")


class _Current:
    """The run the learner's code is talking to; set by the grader, read by the proxies."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.storage: Storage | None = None
        self.lock = threading.Lock()

    def use(self, engine: Engine, storage: Storage) -> None:
        with self.lock:
            self.engine, self.storage = engine, storage


current = _Current()


class _StorageProxy:
    def upload(self, key: str, content: bytes) -> None:
        _storage().upload(key, content)

    def exists(self, key: str) -> bool:
        return _storage().exists(key)


def _storage() -> Storage:
    if current.storage is None:
        raise RuntimeError("storage is only available while perfkata runs the kata")
    return current.storage


storage = _StorageProxy()


def db_session() -> Session:
    """A new session on the run's database, for code that runs outside a request (a job)."""
    if current.engine is None:
        raise RuntimeError("db_session() is only available while perfkata runs the kata")
    return Session(current.engine)


def render_pdf(report: Any) -> bytes:
    """Lay out the report (CPU-bound). Reads report.params and report.owner.name."""
    return data.render(report.params, report.owner.name)
