"""Warm workers: the processes of a grade started before that grade begins — `watch`
starts the next grade's while the learner edits, `grade --all` the next kata's while
the current one counts — so a grade no longer waits ~0.5 s per worker for an
interpreter, its imports (SQLAlchemy, the kata) and its fences.

A spare is exactly a worker as a grade starts it (fenced, its imports done, the audit
hook installed first, as worker.main does) that has not yet been sent its `load`:
no learner code has run in it, and it never served an earlier grade — every grade
still gets processes of its own, and the learner's module is imported into a fresh
one. It has its own owner tag and temp folder (leftovers.py), cleaned up by the grade
that takes it, or by `close()` when none does; like every worker it dies with perfkata
(PR_SET_PDEATHSIG, its fences). Embedded backends only: with PostgreSQL or Redis a
grade's workers reach them through proxies made for that grade.

A spare busy starting would share the cores with a timed sample: `settle()` waits for
every spare's answer to a `ready` request (it answers only once it is idle, reading its
next request), and a grade settles them before its first timing round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkata.errors import PerfkataError
from perfkata.grader import leftovers
from perfkata.grader.process import WorkerProcess, ask_all_to_exit
from perfkata.grader.tamper import SEAL


@dataclass(frozen=True)
class SpareKey:
    """What a started worker cannot change afterwards: its kata, its solution file (its
    fences name what it may read), its memory limit."""

    kata: str
    paths: tuple[tuple[str, str], ...]  # (variant, resolved solution path)
    memory_limit: int

    @classmethod
    def of(cls, kata: str, paths: Mapping[str, Path], memory_limit: int) -> SpareKey:
        resolved = tuple(sorted((v, str(p.resolve())) for v, p in paths.items()))
        return cls(kata, resolved, memory_limit)


@dataclass
class SparePool:
    """One grade's worth of started workers and what they own (an owner tag, a temp
    folder); `stack` ends them all."""

    key: SpareKey
    owned: dict[str, str]
    workers: dict[str, WorkerProcess]
    stack: ExitStack = field(default_factory=ExitStack)
    settled: bool = False


def start_worker(
    variant: str, who: str, path: Path, timeout: float, memory_limit: int, owned: dict[str, str]
) -> WorkerProcess:
    """A worker of the embedded backends as worker_pool starts it (no proxies, so no
    network fence beyond the defaults)."""
    return WorkerProcess(
        variant, who, path, timeout=timeout, memory_limit=memory_limit, extra_env=owned
    )


class Spares:
    """At most one pool of spare workers, waiting for the grade that matches it."""

    def __init__(self) -> None:
        self.pool: SparePool | None = None
        self.started = 0  # pools started, taken: for tests and benchmarks
        self.taken = 0

    def start(
        self,
        kata: str,
        paths: Mapping[str, Path],
        variants: Sequence[str],
        who: Mapping[str, str],
        timeout: float,
        memory_limit: int,
    ) -> None:
        """Start `variants` for a coming grade of `kata` (any spares not taken end)."""
        self.close()
        stack = ExitStack()
        try:
            owned = stack.enter_context(leftovers.owned_by_this_grade(None, None))
            workers: dict[str, WorkerProcess] = {}
            for variant in variants:
                worker = start_worker(
                    variant, who[variant], paths[variant], timeout, memory_limit, owned
                )
                stack.callback(worker.close)
                workers[variant] = worker
            stack.callback(ask_all_to_exit, list(workers.values()))
        except BaseException:
            stack.close()
            raise
        key = SpareKey.of(kata, {v: paths[v] for v in variants}, memory_limit)
        self.pool = SparePool(key, owned, workers, stack)
        self.started += 1

    def settle(self) -> None:
        """Wait until every spare is idle (its imports done): before timing, nothing of
        ours may compete with a timed sample. A spare that failed to start is dropped —
        its grade starts that worker itself."""
        pool = self.pool
        if pool is None or pool.settled:
            return
        for variant, worker in list(pool.workers.items()):
            try:
                worker.call({"op": "ready", "seal": SEAL})
            except PerfkataError:
                worker.kill()
                del pool.workers[variant]
        pool.settled = True

    def take(self, kata: str, paths: Mapping[str, Path], memory_limit: int) -> SparePool | None:
        """The waiting pool when it was started for this kata, these solution files and
        this memory limit; it is the caller's from then on. Otherwise None (and the pool
        ends: a spare for another grade is never reused)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return None
        # the variants it was started with: one dropped by settle() is started by the grade
        wanted = SpareKey.of(kata, {v: paths[v] for v, _ in pool.key.paths}, memory_limit)
        # one that ended while waiting would read as the learner's code ending its process
        alive = all(worker.running() for worker in pool.workers.values())
        if pool.key != wanted or not pool.workers or not alive:
            pool.stack.close()
            return None
        self.taken += 1
        return pool

    def close(self) -> None:
        """End the spares nobody took (their processes, folder and owner tag)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.stack.close()

    def __enter__(self) -> Spares:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
