"""How the grader drives the cleanup jobs: both jobs at NOW on fresh data, then the
surviving rows fingerprinted for the oracle, with the largest DELETE measured."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import ModuleType
from typing import Any

import redis
from sqlalchemy import Delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfkata.bench.probes.queries import is_transaction_control
from perfkata.bench.sourceline import LearnerFiles, SourceLine
from perfkata.katas.base import Backends, RunEnv
from perfkata.katas.cleanup_cron.data import NOW
from perfkata.katas.cleanup_cron.models import AuditLog, Upload, UserSession
from perfkata.ownership import learner_keys_ledger, owner_tag


def fingerprint(ids: Iterable[int]) -> list[int]:
    """[count, sum, sum of squares]: equal for equal id sets, cheap to send."""
    values = list(ids)
    return [len(values), sum(values), sum(i * i for i in values)]


def remaining(engine: Engine) -> dict[str, list[int]]:
    """Fingerprints computed by the database, so the grader's own check allocates nothing
    that grows with the table (it runs inside the memory pass)."""
    found = {}
    with Session(engine) as session:
        for name, model in (("sessions", UserSession), ("uploads", Upload), ("audit", AuditLog)):
            row = session.execute(
                select(func.count(model.id), func.sum(model.id), func.sum(model.id * model.id))
            ).one()
            found[name] = [int(value or 0) for value in row]
    return found


def rows_deleted(clause: Any, result: Any) -> int:
    """Rows a DELETE removed, read from its result (the cursor's own rowcount is not yet
    final in every driver when the cursor events fire)."""
    if not isinstance(clause, Delete) and not str(clause).lstrip().upper().startswith("DELETE"):
        return 0
    return max(0, int(getattr(result, "rowcount", 0) or 0))


class DeleteWatcher:
    """What the jobs' statements looked like: the most rows one DELETE removed (a batch's
    size), how many DELETEs ran and how (executemany runs one per parameter set), how
    many other statements ran, and the learner's line of the first DELETE — so advice
    about the statement count describes the code that ran, not a guess."""

    def __init__(self, engine: Engine, files: LearnerFiles | None = None) -> None:
        self.engine, self.files, self.largest = engine, files, 0
        self.deletes = self.deleted_rows = self.through_executemany = self.others = 0
        self.where: SourceLine | None = None
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_execute", self._after)

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if is_transaction_control(statement):
            return
        runs = len(params) if many and isinstance(params, list | tuple) else 1
        with self._lock:
            if not statement.lstrip().upper().startswith("DELETE"):
                self.others += runs
                return
            self.deletes += runs
            self.through_executemany += runs if many else 0
            if self.where is None and self.files is not None:
                self.where = self.files.innermost_in_stack()

    def _after(
        self, conn: Any, clause: Any, multiparams: Any, params: Any, options: Any, result: Any
    ) -> None:
        runs = len(multiparams) if isinstance(multiparams, list | tuple) and multiparams else 1
        rows = rows_deleted(clause, result)
        with self._lock:  # executemany: the rowcount is summed over its runs
            self.largest = max(self.largest, -(-rows // runs))
            self.deleted_rows += rows

    def describe(self) -> str:
        """One sentence on how the rows were deleted, with the advice that fits it."""
        where = f" ({self.where.short()})" if self.where else ""
        if not self.deletes:
            return f"no DELETE statement ran; {self.others:,} other statements did"
        per = self.deleted_rows / self.deletes
        rows = "1 row" if round(per, 2) == 1 else f"{per:.3g} rows"
        said = f"{self.deletes:,} DELETE statements{where} removed {rows} each on average"
        if self.through_executemany > self.deletes / 2:
            return (
                f"{said}: executemany() runs its DELETE once per row — put a batch of ids "
                "in one DELETE … WHERE id IN (…) instead"
            )
        if per < 2:
            return (
                f"{said}: one row per statement — delete a batch of ids with one "
                "DELETE … WHERE id IN (…)"
            )
        if per < 20:
            return (
                f"{said}, at most {self.largest}: batches that small cost a statement every "
                "few rows — use a few hundred ids (up to 1,000) per batch"
            )
        return (
            f"{said} and {self.others:,} other statements ran; the DELETEs are batched, so "
            "look for a statement that runs once per row (the repeated statement above)"
        )

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_execute", self._after)


class ClaimClient(redis.Redis):
    """The learner's Redis client, remembering the keys it writes: the learner names its
    claim keys (`cron:<job>:<slot>`, no prefix of ours), so the run deletes them when it
    ends rather than leave them in a shared database for their TTL. Each key is also
    listed, before it is written, in a set under this grade's owner prefix, so a run
    killed before its clean-up (the crash scenario's child, a SIGKILLed perfkata) leaves
    the next grade's sweep a list of what to delete."""

    WRITES = frozenset({"SET", "SETNX", "SETEX", "PSETEX", "INCR", "INCRBY", "HSET", "HSETNX"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written: set[Any] = set()
        # one list per client: forked racers inherit it, other workers' runs have theirs
        self.ledger = learner_keys_ledger(owner_tag(), uuid.uuid4().hex[:8])

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if len(args) > 1 and str(args[0]).upper() in self.WRITES:
            if args[1] not in self.written:
                with self.pipeline() as pipe:
                    pipe.sadd(self.ledger, args[1])
                    pipe.expire(self.ledger, 7200)
                    pipe.execute()
            self.written.add(args[1])
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


@contextmanager
def cleanup_services(engine: Engine, backends: Backends) -> Iterator[Mapping[str, Any]]:
    """A Redis client for claims when one was asked for; None means claim in the database."""
    client = (
        ClaimClient(connection_pool=redis.ConnectionPool.from_url(backends.redis_url))
        if backends.redis_url
        else None
    )
    try:
        yield {"redis": client}
    finally:
        if client is not None:
            with suppress(redis.RedisError):
                # what this process wrote, and what forked racers listed before they ended
                doomed = client.written | client.smembers(client.ledger)
                client.delete(*doomed, client.ledger)
            client.close()
            client.connection_pool.disconnect()  # a pool handed in is not closed with it


def both_jobs(module: ModuleType, env: RunEnv) -> list[Any]:
    """What a timing sample runs: the two jobs at NOW, each with its own session."""
    with Session(env.engine) as session:
        expired = module.expire_sessions(session, NOW)
    with Session(env.engine) as session:
        purged = module.purge_uploads(session, NOW)
    return [expired, purged]


def left_behind(env: RunEnv, returned: Any) -> dict[str, Any]:
    """A timed call's effect, read after it (katas/effects.py): what run_jobs returns
    for the counted run — the rows the jobs left and what they returned — so the same
    oracle judges it."""
    return {**remaining(env.engine), "returned": returned}


def run_jobs(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    watcher = DeleteWatcher(env.engine, LearnerFiles([str(module.__file__)]))
    try:
        returned = both_jobs(module, env)
    finally:
        watcher.close()
    env.record("max_rows_per_delete", watcher.largest)
    env.record("delete_statements", watcher.deletes)
    env.note("statements", f"at {env.size:,} sessions, {watcher.describe()}")
    return {**remaining(env.engine), "returned": returned}
