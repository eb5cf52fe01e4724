"""Re-grade on every save of the learner's files (watchfiles: native events, or polling
for network and container file systems), one view per save: the counted checks at once,
completed by the timed ones. Errors in the learner's code are shown and the watch goes
on; Ctrl-C ends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import watchfiles
from rich.console import Console

from perfkata.bench.thresholds import Outcome
from perfkata.grader import report
from perfkata.grader.results import GradeResult


def watch_and_regrade(
    files: list[Path], regrade: Callable[[], None], *, poll: bool, debounce_ms: int = 400
) -> None:
    """Grade once now, then again after each debounced burst of saves to `files`."""
    wanted = {path.resolve() for path in files}
    folders = sorted({path.parent for path in wanted})

    def only_the_learners_files(change: watchfiles.Change, path: str) -> bool:
        return change != watchfiles.Change.deleted and Path(path).resolve() in wanted

    regrade()
    for _ in watchfiles.watch(
        *folders,
        watch_filter=only_the_learners_files,
        debounce=debounce_ms,
        force_polling=poll,
        poll_delay_ms=300,
    ):
        regrade()


def pending_checks(counted: GradeResult) -> set[str]:
    """The checks the counted result leaves to the timing (shown as "timing…" meanwhile)."""
    return {c.check.id for c in counted.checks if c.outcome is Outcome.NOT_RUN}


def render_counted(result: GradeResult, console: Console, plain: bool) -> None:
    """The deterministic verdict at once: every counted row, the timed ones still running,
    and What to fix — no score yet, since the timing may change it."""
    console.print(f"{result.kata.slug} — {result.solution}", markup=False, highlight=False)
    waiting = pending_checks(result)
    rows = [report.check_row(c) for c in result.checks]
    for row, check in zip(rows, result.checks, strict=True):
        if check.check.id in waiting:
            row[1], row[2], row[-1] = "…", "…", "timing…"
    styles = [report.STYLE.get(c.outcome, "") for c in result.checks]
    report.table(console, plain, report.HEADERS, rows, styles)
    report.render_diagnostics(result, console, plain)
    console.print("\nTiming the speed-up; its result follows here.", markup=False)


def render_timed(counted: GradeResult, result: GradeResult, console: Console, plain: bool) -> None:
    """Complete the counted view with the timed rows and the score; if the timing changed
    anything already shown (a memoised answer found while timing), show the whole grade
    again in its place instead."""
    waiting = pending_checks(counted)
    before = {c.check.id: c.outcome for c in counted.checks if c.check.id not in waiting}
    if any(before.get(c.check.id, c.outcome) is not c.outcome for c in result.checks):
        console.clear()
        report.render_grade(result, console, plain)
        return
    for check in (c for c in result.checks if c.check.id in waiting):
        line = (
            f"{check.check.title}: {check.yours} (reference {check.reference}, "
            f"threshold {check.threshold}) — {report.MARK[check.outcome]}, "
            f"{check.points}/{check.check.points} points"
        )
        style = report.STYLE.get(check.outcome)
        console.print(line, markup=False, highlight=False, style=style, soft_wrap=False)
        for diagnostic in check.diagnostics:
            console.print(report.hanging(f"  {diagnostic.message}"), soft_wrap=False)
    report.render_verdict(result, console, plain)
