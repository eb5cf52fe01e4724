"""Fixes that prove themselves: the learner's workload run once more, in its own worker,
with the loader options an N+1 finding suggests added to the query that loaded the
parents — and the statements it then ran, measured, put beside the advice.

Nothing here decides a grade: the run is teaching text, made only when a counted run
found an N+1 on a failing grade, and its figures are the worker's own (evidence, like
every other diagnostic). The options are added by a `do_orm_execute` listener to the
top-level SELECT of the parents' entity sent from the learner's line that loaded them:
the learner's file is never edited, and a query the listener cannot match is reported
as advice that could not be applied automatically."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from perfkata.bench.probes.lazyloads import LazyFix
from perfkata.bench.sourceline import LearnerFiles
from perfkata.grader.diagnostics import TRIED, Diagnostic, plural


@dataclass
class FixPlan:
    """What the counted run found at its size: the fixes to try, and its statements."""

    size: int
    seed: int
    statements: int
    fixes: list[LazyFix]


class OptionsAdder:
    """Adds each fix's options to the statements it matches, counting the matches."""

    def __init__(self, fixes: list[LazyFix], files: LearnerFiles) -> None:
        self.fixes, self.files = fixes, files
        self.applied: set[int] = set()  # indexes of the fixes that matched a statement

    def __call__(self, state: ORMExecuteState) -> None:
        if not state.is_select or state.is_relationship_load or state.lazy_loaded_from:
            return
        frame = self.files.innermost_frame()
        if frame is None:
            return
        for index, fix in enumerate(self.fixes):
            if (frame.f_code.co_filename, frame.f_lineno) != (fix.where.file, fix.where.line):
                continue
            if state.bind_mapper is not fix.root():
                continue
            state.statement = state.statement.options(*fix.options())
            self.applied.add(index)


@contextmanager
def options_added(fixes: list[LazyFix], files: LearnerFiles) -> Iterator[OptionsAdder]:
    adder = OptionsAdder(fixes, files)
    event.listen(Session, "do_orm_execute", adder)
    try:
        yield adder
    finally:
        event.remove(Session, "do_orm_execute", adder)


def tried_message(plan: FixPlan, applied: list[LazyFix], statements: int, lazy: int) -> str:
    """The measured result beside the advice: "tried" only when it was applied and
    helped; otherwise what could not be done automatically."""
    if not applied:
        where = ", ".join(f.where.short() for f in plan.fixes)
        return (
            f"the suggested loader options could not be applied automatically to the query "
            f"at {where} (its statement is not a select() of the parents' entity sent from "
            "that line): add them by hand"
        )
    options = ", ".join(f.written() for f in applied)
    where = ", ".join(f.where.short() for f in applied)
    if statements >= plan.statements:
        return (
            f"with .options({options}) on the query at {where}, your code still ran "
            f"{statements:,} statements at N={plan.size:,} (it ran {plan.statements:,}): "
            "the options alone do not fix it, see the other findings"
        )
    still = f", {lazy:,} lazy loads remain" if lazy else ""
    return (
        f"with .options({options}) on the query at {where}, your code runs "
        f"{plural(statements, 'statement')} instead of {plan.statements:,} at N={plan.size:,}"
        f"{still} (tried)"
    )


def tried_diagnostic(reply: dict[str, Any]) -> Diagnostic:
    """The parent's view of a try_fix reply: one diagnostic under the N+1 findings."""
    where = reply.get("where") or {}
    return Diagnostic(
        "lazy_loads",
        str(reply["message"]),
        where.get("file"),
        where.get("line"),
        int(reply.get("statements", 0)),
        TRIED,
    )
