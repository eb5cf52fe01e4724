"""Every statement a run sent, as the database received it, tagged with the phase of the
workload it ran in and the learner's line that sent it.

A kata that judges statements by more than their number — their query plans, the rows
they return, the work a page costs at depth — needs their text with the parameters in
it, kept where the learner's code cannot edit it. On SQLite it comes from the driver:
the worker's audit hook traces every sqlite3 connection however it was opened, and
SQLite's trace hands over the expanded SQL (parameters bound as literals). On
PostgreSQL it is rendered by psycopg from each execute's statement and parameters.
The parent replays the log against the run's own database (grader/parent_audit.py):
no count the worker reports about rows or plans is believed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.probes.queries import DRIVER_FEED, _not_a_round_trip

LIMIT = 5000  # statements kept per run: a per-row loop needs no more to be judged


class StatementLog(Probe):
    name = "statement_log"

    def __init__(self, limit: int = LIMIT) -> None:
        self.phase = ""
        self.entries: list[list[str]] = []  # [phase, sql, "file:line" or ""]
        self.dropped = 0
        self.limit = limit
        self._ctx: ProbeContext | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._listening = False

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        feed = ctx.extras.get(DRIVER_FEED)
        if ctx.engine.dialect.name == "sqlite" and feed is not None:
            self._unsubscribe = feed(self.add)
        else:  # PostgreSQL, or SQLite in-process without the audit hook (perfkata's tests)
            event.listen(ctx.engine, "before_cursor_execute", self._on_execute)
            self._listening = True

    def after(self, ctx: ProbeContext) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._listening:
            event.remove(ctx.engine, "before_cursor_execute", self._on_execute)
            self._listening = False

    def add(self, statement: str) -> None:
        if _not_a_round_trip(statement):
            return
        if len(self.entries) >= self.limit:
            self.dropped += 1
            return
        where = self._ctx.learner_files.innermost_in_stack() if self._ctx else None
        self.entries.append([self.phase, statement, where.short() if where else ""])

    def _on_execute(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        for one in params if many else [params]:
            self.add(literal_sql(conn.dialect.name, cursor, statement, one))

    def results(self) -> dict[str, Any]:
        return {"logged_statements": len(self.entries) + self.dropped}


def literal_sql(dialect: str, cursor: Any, statement: str, params: Any) -> str:
    """The statement with its parameters as literals, as the server would run it."""
    if dialect == "postgresql":
        import psycopg

        rendered = psycopg.ClientCursor(cursor.connection).mogrify(statement, params)
        return str(rendered)
    values = list(params or ())
    parts = statement.split("?")
    if len(parts) - 1 != len(values):
        return statement
    out = [parts[0]]
    for value, part in zip(values, parts[1:], strict=True):
        out += [sqlite_literal(value), part]
    return "".join(out)


def sqlite_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return "'" + str(value).replace("'", "''") + "'"
