"""Rows a collection joinedload fetched against the objects they built.

`joinedload` on a collection repeats its parent's columns once per child row; two of
them on one query multiply (every comment of a post times every tag of it). A query the
learner wrote with a joined collection is marked when it is sent (do_orm_execute), its
cursor's rows are counted as the ORM fetches them, and the objects it built are counted
by the `load` event (once per identity) — both only for such queries, so a solution
without a joined collection pays nothing. Where rows far outnumber objects, selectinload
(one extra IN query per collection) fetches each row once (grader.diagnostics)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, RelationshipProperty, Session

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.probes.lazyloads import relationship_props
from perfkata.bench.sourceline import SourceLine

MARK = "perfkata_joined_rows"  # the execution option carrying a query's tally


@dataclass
class JoinedQuery:
    """One learner line's queries with joined collections: rows fetched, objects built."""

    where: SourceLine | None
    collections: tuple[str, ...]  # "Post.comments", the joined collections' labels
    entity: str
    rows: int = 0
    objects: int = 0
    runs: int = 0


class CountingCursor:
    """A DBAPI cursor whose fetched rows are counted into a JoinedQuery."""

    def __init__(self, cursor: Any, tally: JoinedQuery) -> None:
        self._cursor, self._tally = cursor, tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Any:
        for row in self._cursor:
            self._tally.rows += 1
            yield row

    def fetchall(self) -> Any:
        rows = self._cursor.fetchall()
        self._tally.rows += len(rows)
        return rows

    def fetchmany(self, *args: Any, **kwargs: Any) -> Any:
        rows = self._cursor.fetchmany(*args, **kwargs)
        self._tally.rows += len(rows)
        return rows

    def fetchone(self) -> Any:
        row = self._cursor.fetchone()
        self._tally.rows += row is not None
        return row


class JoinedRowsProbe(Probe):
    name = "joined_rows"

    def __init__(self) -> None:
        self.queries: dict[tuple[SourceLine | None, tuple[str, ...]], JoinedQuery] = {}
        self._ctx: ProbeContext | None = None
        self._loading = False

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        event.listen(Session, "do_orm_execute", self._on_execute)
        event.listen(ctx.engine, "after_cursor_execute", self._on_cursor)

    def after(self, ctx: ProbeContext) -> None:
        event.remove(Session, "do_orm_execute", self._on_execute)
        event.remove(ctx.engine, "after_cursor_execute", self._on_cursor)
        if self._loading:
            event.remove(ctx.model_base, "load", self._on_load)
            self._loading = False

    def _on_execute(self, state: ORMExecuteState) -> None:
        if not state.is_select or state.is_relationship_load or state.lazy_loaded_from:
            return
        collections = joined_collections(state)
        if not collections or self._ctx is None:
            return
        where = self._ctx.learner_files.innermost_in_stack()
        key = (where, collections)
        tally = self.queries.get(key)
        if tally is None:
            entity = state.bind_mapper.class_.__name__ if state.bind_mapper else "the"
            tally = self.queries[key] = JoinedQuery(where, collections, entity)
        tally.runs += 1
        state.update_execution_options(**{MARK: tally})
        if not self._loading:  # objects are counted only once such a query exists
            event.listen(self._ctx.model_base, "load", self._on_load, propagate=True)
            self._loading = True

    def _on_cursor(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        tally = context.execution_options.get(MARK) if context is not None else None
        if tally is not None and cursor is not None and context.cursor is cursor:
            context.cursor = CountingCursor(cursor, tally)

    def _on_load(self, target: Any, context: Any) -> None:
        tally = context.execution_options.get(MARK)
        if tally is not None:
            tally.objects += 1


def joined_collections(state: ORMExecuteState) -> tuple[str, ...]:
    """The collections the statement's own options joinedload (not contains_eager)."""
    found = []
    for option in state.statement._with_options:
        for element in getattr(option, "context", ()):
            chain = relationship_props(getattr(element, "path", None))
            lazy = dict(getattr(element, "strategy", None) or ()).get("lazy")
            if not chain or lazy != "joined" or "eager_from_alias" in element.local_opts:
                continue
            prop: RelationshipProperty[Any] = chain[-1]
            if prop.uselist:
                found.append(f"{prop.parent.class_.__name__}.{prop.key}")
    return tuple(sorted(set(found)))
