"""Column reloads: an expired or deferred column loaded one object at a time.

After `commit()` a Session expires every object it holds (expire_on_commit), and the next
read of any column runs a SELECT for that one object; a `deferred()` column (or one left
out by `load_only`) does the same on first read. SQLAlchemy marks such a statement as a
column load (`ORMExecuteState.is_column_load`, with the object in `_refresh_state`), so
each is counted by class, columns, why, and the learner's line. `Session.refresh()` is a
column load the learner asked for, and one object reloaded alone is no loop: only lines
that reload many objects become findings (grader.diagnostics)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from perfkata.bench.probes import Probe, ProbeContext
from perfkata.bench.sourceline import SourceLine


@dataclass(frozen=True, order=True)
class ReloadSite:
    model: str  # "Report"
    columns: tuple[str, ...]  # ("status",), or () when the whole row was reloaded
    deferred: bool  # True: deferred / left out by load_only; False: expired
    where: SourceLine | None

    def label(self) -> str:
        """`Post.body`, or `every column of Post` for a whole expired row."""
        return (
            ", ".join(f"{self.model}.{c}" for c in self.columns) or f"every column of {self.model}"
        )


class ColumnReloadProbe(Probe):
    name = "column_reloads"

    def __init__(self) -> None:
        self.sites: Counter[ReloadSite] = Counter()
        self._ctx: ProbeContext | None = None

    def before(self, ctx: ProbeContext) -> None:
        self._ctx = ctx
        event.listen(Session, "do_orm_execute", self._on_execute)

    def after(self, ctx: ProbeContext) -> None:
        event.remove(Session, "do_orm_execute", self._on_execute)

    def _on_execute(self, state: ORMExecuteState) -> None:
        if not state.is_select or not state.is_column_load or self._ctx is None:
            return
        refreshed = getattr(state.load_options, "_refresh_state", None)
        if refreshed is None:
            return
        if _is_explicit_refresh():
            return  # Session.refresh(): asked for, and named in the learner's own line
        options: Any = getattr(state.statement, "_compile_options", None)
        columns = tuple(sorted(getattr(options, "_only_load_props", None) or ()))
        mapper = refreshed.mapper
        deferred = any(
            getattr(mapper.attrs.get(c), "deferred", False) for c in columns if c in mapper.attrs
        ) or bool(columns and not refreshed.expired_attributes & set(columns))
        if set(columns) >= {attr.key for attr in mapper.column_attrs}:
            columns = ()  # the whole row: name the model, not a list of every column
        where = self._ctx.learner_files.innermost_in_stack()
        self.sites[ReloadSite(mapper.class_.__name__, columns, deferred, where)] += 1

    def results(self) -> dict[str, Any]:
        return {}


def _is_explicit_refresh() -> bool:
    """Whether Session.refresh() is on the stack (it reloads on purpose)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return False
        if frame.f_code.co_name == "refresh" and "session" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False
