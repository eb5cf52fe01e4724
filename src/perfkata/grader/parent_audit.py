"""Statements judged in the parent: a kata that keeps a log of its counted run's
statements (bench/probes/statement_log.py; extras["statement_log"]) names a function,
extras["judge_statements"], that replays them on the run's own database — query plans,
rows returned, rows an OFFSET skipped — and returns counters and diagnostics.

It runs here, between the worker's reply and its next request, while the worker waits
and its database still holds the counted rows: no number the learner's process could
reach decides these checks. SQLite is opened read-only; PostgreSQL is reached directly
(not through the counting proxy, whose window has closed) in the worker's schema."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from perfkata.errors import InternalError
from perfkata.grader.diagnostics import Diagnostic
from perfkata.katas.base import Kata

Opener = Callable[[], Engine]


def sqlite_opener(database: str | None, scratch: Path) -> Opener | None:
    """The worker's SQLite file, read-only — only when it lies in the worker's scratch
    folder (the path comes from the worker's load reply, sent before any request)."""
    if not database:
        return None
    path = Path(os.path.realpath(database))
    if not path.is_relative_to(os.path.realpath(scratch)):
        raise InternalError(f"a worker's database {path} is outside its scratch folder")

    def opened() -> Engine:
        engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
        event.listen(engine, "connect", _no_writes)
        return engine

    return opened


def _no_writes(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")


def postgres_opener(db_url: str, schema: str) -> Opener:
    def opened() -> Engine:
        return create_engine(db_url, connect_args={"options": f"-csearch_path={schema}"})

    return opened


def judge_logged(kata: Kata, entry: dict[str, Any], opener: Opener | None) -> None:
    """Replace the entry's statement log by what the kata's judge makes of it."""
    log = entry.pop("statement_log", None)
    judge = kata.extras.get("judge_statements")
    if log is None or judge is None:
        return
    if opener is None:
        raise InternalError(f"{kata.slug} judges its statements, but no database was found")
    engine = opener()
    try:
        counters, notes = judge(engine, log, entry.get("output"), entry["size"])
    finally:
        engine.dispose()
    entry["counters"].update(counters)
    entry["diagnostics"] += [Diagnostic(metric, message).as_dict() for metric, message in notes]
