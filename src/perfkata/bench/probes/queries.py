"""Count SQL statements, at SQLAlchemy and at the driver.

SQLAlchemy's `before_cursor_execute` sees everything that goes through the engine. A
learner who grabs the raw DBAPI connection, or opens their own connection, would hide
statements from it, so every connection is also counted at the driver — on SQLite by a
trace callback, on PostgreSQL by a counting psycopg cursor class — and the larger of the
two counts is the one that is graded. A driver connection that cannot be traced (aiosqlite
under create_async_engine has no set_trace_callback) is counted at SQLAlchemy only.

A driver statement that SQLAlchemy did not announce just before is the learner's own:
it is attributed to their file and line, so "800 statements at blog.py:14" can be said.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.sourceline import LearnerFiles, SourceLine
from perfkata.bench.sqltext import is_write, normalised

# A match at the start, so a long statement is never copied or split to read its verb.
_TRANSACTION_CONTROL = re.compile(
    r"\s*(?:(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END)\b|;*\s*$)", re.IGNORECASE
)
_NOT_A_ROUND_TRIP = re.compile(r"--|\s*PRAGMA\b", re.IGNORECASE)
_DRIVER = "\x00driver "  # marks a bypassed statement's site key apart from SQLAlchemy's
# ctx.extras key: a function subscribing a callback to every sqlite3 statement the
# driver runs (the worker's audit hook), returning the unsubscribe
DRIVER_FEED = "driver_feed"


def is_transaction_control(statement: str) -> bool:
    return _TRANSACTION_CONTROL.match(statement) is not None


# (normalised statement, learner code object, line): where one statement came from
SiteKey = tuple[str, CodeType | None, int]


@dataclass(frozen=True)
class StatementGroup:
    """One normalised statement sent from one learner line: how many statements it
    counted as, in how many calls, and — for a write sent one call at a time — how many
    rows those calls changed (None where the driver did not say)."""

    text: str  # normalised (sqltext.normalised): literals and parameters are `?`
    where: SourceLine | None
    count: int
    in_one_call: int  # the most it ran within one call of the learner's (a loop)
    single_calls: int  # calls that were not executemany()
    rows: int | None
    bypassed: bool  # sent to the driver around SQLAlchemy

    @property
    def write(self) -> bool:
        return is_write(self.text)


class QueryProbe(Probe):
    """Statements executed, and repeated statements by learner line. (No per-object
    "load" listener: it cost ~10 % of a run that loads 10,000 rows, and no check used it.)"""

    name = "queries"

    def __init__(self) -> None:
        self.statements = 0
        self.driver_statements = 0  # round trips the driver saw (BEGIN, PRAGMA … aside)
        self.by_text: Counter[str] = Counter()
        self.first_seen_at: dict[str, SourceLine | None] = {}
        # driver statements SQLAlchemy announced and the driver has not reported yet
        self._announced = 0
        self._last: SiteKey = ("", None, 0)  # the site of the statement just announced
        self.in_one_call: Counter[SiteKey] = Counter()  # most statements in one call
        self._outer: FrameType | None = None
        self._call = 0
        self._call_of: dict[SiteKey, int] = {}
        self._run: Counter[SiteKey] = Counter()
        # statements that went around SQLAlchemy, by learner line (None: no learner frame)
        self.bypass_sites: Counter[SourceLine | None] = Counter()
        self.bypass_text: dict[SourceLine | None, str] = {}
        # per site: statements (parameter sets), single (non-executemany) calls, and the
        # rows single-call writes changed — read when diagnostics are made, never graded
        self.sites: Counter[SiteKey] = Counter()
        self.single_calls: Counter[SiteKey] = Counter()
        self.write_rows: Counter[SiteKey] = Counter()
        self.bypass_groups: Counter[SiteKey] = Counter()  # keyed _DRIVER + text
        self._writes: dict[str, bool] = {}  # statement text -> is a write (memo)
        self._normalised: dict[str, str] = {}  # statement text -> normalised (memo)
        self._last_text = ""
        self._ctx: ProbeContext | None = None
        self._original_connect: Callable[..., sqlite3.Connection] | None = None
        self._psycopg: PsycopgCounting | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        event.listen(ctx.engine, "before_cursor_execute", self._on_execute)
        event.listen(ctx.engine, "after_cursor_execute", self._after_execute)
        feed = ctx.extras.get(DRIVER_FEED)
        if ctx.engine.dialect.name == "sqlite" and feed is not None:
            # The grader's audit hook traces every sqlite3 connection already (SQLite
            # keeps one trace callback per connection): listen to it instead.
            self._unsubscribe = feed(self._on_driver)
        elif ctx.engine.dialect.name == "sqlite":
            self._trace_sqlite(ctx)
        elif ctx.engine.dialect.driver == "psycopg":
            self._psycopg = PsycopgCounting(self._on_driver)
            self._psycopg.install(ctx.engine)

    def after(self, ctx: ProbeContext) -> None:
        event.remove(ctx.engine, "before_cursor_execute", self._on_execute)
        event.remove(ctx.engine, "after_cursor_execute", self._after_execute)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._original_connect is not None:
            sqlite3.connect = sqlite3.dbapi2.connect = self._original_connect  # type: ignore[assignment]
            self._original_connect = None
            event.remove(ctx.engine, "checkout", self._trace_pooled)
            event.remove(ctx.engine, "checkin", _untrace_pooled)
        if self._psycopg is not None:
            self._psycopg.remove(ctx.engine)
            self._psycopg = None

    def _trace_sqlite(self, ctx: ProbeContext) -> None:
        original = sqlite3.connect
        self._original_connect = original

        def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn: sqlite3.Connection = original(*args, **kwargs)
            _trace(conn, self._on_driver)
            return conn

        # SQLAlchemy calls sqlite3.dbapi2.connect, learners usually sqlite3.connect.
        sqlite3.connect = sqlite3.dbapi2.connect = traced_connect  # type: ignore[assignment]
        # The engine's pooled connections predate the patch: trace them while checked out
        # (cheaper than disposing the pool, which made every probed run reconnect).
        event.listen(ctx.engine, "checkout", self._trace_pooled)
        event.listen(ctx.engine, "checkin", _untrace_pooled)

    def _trace_pooled(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        _trace(dbapi_connection, self._on_driver)

    def _on_driver(self, statement: str) -> None:
        """Every statement the driver ran. Most were announced by SQLAlchemy a moment
        before (settled by a counter); any other is found in the learner's stack."""
        if _not_a_round_trip(statement):  # the driver's own BEGIN, a PRAGMA, a trigger
            return
        self.driver_statements += 1
        if self._announced > 0:
            self._announced -= 1
        elif self._ctx is not None:
            self._bypassed(statement, self._ctx.learner_files)

    def _bypassed(self, statement: str, files: LearnerFiles) -> None:
        """A statement around SQLAlchemy, by learner line and normalised text (its key
        marked apart from SQLAlchemy's own, which share the in-call counting)."""
        frame = files.innermost_frame()
        where = (
            SourceLine(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
            if frame
            else None
        )
        self.bypass_sites[where] += 1
        self.bypass_text.setdefault(where, statement)
        if frame is None or frame is not _driver_caller(files):
            return  # a library's own statements (diskcache's SQLite): counted, not a finding
        key = (
            _DRIVER + normalised(statement),
            *((frame.f_code, frame.f_lineno) if frame else (None, 0)),
        )
        self.bypass_groups[key] += 1
        self._count_in_call(key, 1, files.outermost_frame(frame))

    def _on_execute(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if is_transaction_control(statement):
            return
        # executemany() runs the statement once per parameter set: that many round trips
        # to the engine (and, on most drivers, to the server), however it is batched.
        count = len(params) if many and isinstance(params, list | tuple) else 1
        self.statements += count
        self._announced = count
        self.by_text[statement] += count
        if self._ctx is None:
            return
        if statement not in self.first_seen_at:
            self.first_seen_at[statement] = self._ctx.learner_files.innermost_in_stack()
        files = self._ctx.learner_files
        frame = files.innermost_frame()
        text = self._normalised.get(statement)
        if text is None:  # a statement with its values inline is new every time
            text = normalised(statement)
            if len(self._normalised) < 10_000:
                self._normalised[statement] = text
        key = (text, frame.f_code, frame.f_lineno) if frame else (text, None, 0)
        self.sites[key] += count
        if not many:
            self.single_calls[key] += 1
        self._last, self._last_text = key, statement
        self._count_in_call(key, count, files.outermost_frame(frame))

    def _count_in_call(self, key: SiteKey, count: int, outer: FrameType | None) -> None:
        """Statements a site sent within one call of the learner's (one request, one
        job): a loop is a site repeating inside one call, not the grader calling them
        many times. The call is told by its outermost frame, held until the next one
        (so a new call's frame can never reuse its address)."""
        if outer is not self._outer:
            self._outer, self._call = outer, self._call + 1
        if self._call_of.get(key) != self._call:
            self._call_of[key], self._run[key] = self._call, 0
        self._run[key] += count
        if self._run[key] > self.in_one_call[key]:
            self.in_one_call[key] = self._run[key]

    def _after_execute(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        """The rows a single-call write changed, for telling a row-by-row loop from batches."""
        write = self._writes.get(statement)
        if write is None:
            write = self._writes[statement] = is_write(statement)
        if write and not many and self._last_text == statement:
            self.write_rows[self._last] += max(0, int(getattr(cursor, "rowcount", 0) or 0))

    def groups(self) -> list[StatementGroup]:
        """Every statement by normalised text and learner line, most frequent first:
        one written with its values inline groups with itself across rows."""
        merged: dict[tuple[str, SourceLine | None], list[int]] = {}
        for (text, code, line), count in self.sites.items():
            where = SourceLine(code.co_filename, line, code.co_name) if code else None
            totals = merged.setdefault((text, where), [0, 0, 0, 0])
            key = (text, code, line)
            totals[0] += count
            totals[1] = max(totals[1], self.in_one_call[key])
            totals[2] += self.single_calls[key]
            totals[3] += self.write_rows[key]
        found = [
            StatementGroup(text, where, count, in_call, calls, rows, False)
            for (text, where), (count, in_call, calls, rows) in merged.items()
        ]
        for (text, code, line), count in self.bypass_groups.items():
            where = SourceLine(code.co_filename, line, code.co_name) if code else None
            in_call = self.in_one_call[text, code, line]
            found.append(
                StatementGroup(text.removeprefix(_DRIVER), where, count, in_call, count, None, True)
            )
        return sorted(found, key=lambda g: (-g.count, g.text))

    def repeated(self, at_least: int) -> list[tuple[str, int, SourceLine | None]]:
        """Statements run `at_least` times or more: hand-written loops of queries."""
        return [
            (text, count, self.first_seen_at.get(text))
            for text, count in self.by_text.most_common()
            if count >= at_least
        ]

    def results(self) -> dict[str, Any]:
        driver = self.driver_statements
        bypassed = max(0, driver - self.statements)
        return {
            "statements": self.statements + bypassed,
            "orm_statements": self.statements,
            "driver_statements": driver,
            "bypassed_statements": bypassed,
        }


# modules between the learner's raw query and the statement's report: perfkata's trace
# callback and counting cursor, and the drivers' own Python layers (psycopg's
# Connection.execute calls its cursor's)
_BETWEEN = ("perfkata.", "psycopg", "sqlite3", "aiosqlite")


def _driver_caller(files: LearnerFiles) -> FrameType | None:
    """The frame that called the driver, past perfkata's and the driver's own frames. A
    learner's raw query is sent from their own line; a library's (a cache on SQLite)
    from the library's code."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename not in files:
        if not str(frame.f_globals.get("__name__", "")).startswith(_BETWEEN):
            break
        frame = frame.f_back
    return frame


def _not_a_round_trip(statement: str) -> bool:
    # SQLite reports trigger bodies as "-- TRIGGER name"; they are not round trips, and
    # nor are the PRAGMAs a connection is set up with, nor transaction control.
    return _NOT_A_ROUND_TRIP.match(statement) is not None or is_transaction_control(statement)


def _trace(dbapi_connection: Any, callback: Callable[[str], None] | None) -> None:
    """Trace a sqlite3 connection; a driver without the hook (aiosqlite's adapted
    connection) is left alone: its statements are still counted at SQLAlchemy."""
    set_trace = getattr(dbapi_connection, "set_trace_callback", None)
    if set_trace is not None:
        set_trace(callback)


def _untrace_pooled(dbapi_connection: Any, record: Any) -> None:
    if dbapi_connection is not None:  # None when the connection was invalidated
        _trace(dbapi_connection, None)


class StatementCounter:
    """Counts statements on an engine while `active` — one phase of a workload (a request
    path, the learner's reads) rather than a whole probed run; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.count, self.active = engine, 0, False
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if self.active and not is_transaction_control(statement):
            with self._lock:
                self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


class PsycopgCounting:
    """Every psycopg connection opened while installed — the engine's and any the learner
    opens with psycopg.connect() — makes cursors of a subclass that reports each execute
    (once per parameter set for executemany)."""

    def __init__(self, report: Callable[[str], None]) -> None:
        import psycopg

        self.psycopg, self.report = psycopg, report
        self.original_connect = psycopg.Connection.connect
        self.cursor_class = self._cursor_class()

    def _cursor_class(self) -> type:
        report = self.report

        class CountingCursor(self.psycopg.Cursor):  # type: ignore[misc, name-defined]
            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                report(_text(query))
                return super().execute(query, *args, **kwargs)

            def executemany(self, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
                params_seq = list(params_seq)
                for _ in params_seq:
                    report(_text(query))
                return super().executemany(query, params_seq, *args, **kwargs)

        return CountingCursor

    def install(self, engine: Engine) -> None:
        # The engine's pooled connections count while checked out (cheaper than disposing
        # the pool, which made every probed run open new server connections).
        event.listen(engine, "checkout", self._on_checkout)
        event.listen(engine, "checkin", self._on_checkin)
        counting, original = self, self.original_connect

        def connect(*args: Any, **kwargs: Any) -> Any:
            conn = original(*args, **kwargs)
            conn.cursor_factory = counting.cursor_class
            return conn

        # psycopg.connect is Connection.connect, bound when psycopg was imported: patch both.
        setattr(self.psycopg.Connection, "connect", connect)  # noqa: B010
        setattr(self.psycopg, "connect", connect)  # noqa: B010

    def _on_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        record.info.setdefault("perfkata_cursor", dbapi_connection.cursor_factory)
        dbapi_connection.cursor_factory = self.cursor_class

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None and "perfkata_cursor" in record.info:
            dbapi_connection.cursor_factory = record.info.pop("perfkata_cursor")

    def remove(self, engine: Engine) -> None:
        setattr(self.psycopg.Connection, "connect", self.original_connect)  # noqa: B010
        setattr(self.psycopg, "connect", self.original_connect)  # noqa: B010
        event.remove(engine, "checkout", self._on_checkout)
        event.remove(engine, "checkin", self._on_checkin)


def _text(query: Any) -> str:
    """The statement's text, for telling BEGIN/COMMIT apart (psycopg.sql objects: its repr)."""
    if isinstance(query, bytes):
        return query.decode("utf-8", "replace")
    return query if isinstance(query, str) else repr(query)
