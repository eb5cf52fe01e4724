"""Render grades and kata lists: rich tables on a terminal, plain tabulate text in logs
and pipes (and with --no-color / NO_COLOR), JSON for machines."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from tabulate import tabulate

from perfkata import fences
from perfkata.bench.runs import SavedRun
from perfkata.bench.thresholds import Outcome
from perfkata.grader import compare
from perfkata.grader.batch import KataOutcome
from perfkata.grader.diagnostics import NOTE
from perfkata.grader.results import CheckResult, GradeResult

MARK = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "FAIL",
    Outcome.INCONCLUSIVE: "inconclusive",
    Outcome.ERROR: "error",
    Outcome.NOT_RUN: "not run",
}
STYLE = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.INCONCLUSIVE: "yellow"}
HEADERS = ("check", "yours", "reference", "threshold", "points", "result")


def plain_wanted(no_color: bool, console: Console) -> bool:
    return no_color or "NO_COLOR" in os.environ or not console.is_terminal


def table(
    console: Console,
    plain: bool,
    headers: Sequence[str],
    rows: list[list[str]],
    styles: list[str] | None = None,
) -> None:
    if plain:
        console.print(
            tabulate(rows, headers=list(headers), tablefmt="simple"),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    rich_table = Table(*headers, header_style="bold")
    for index, row in enumerate(rows):
        rich_table.add_row(*row, style=styles[index] if styles else None)
    console.print(rich_table)


def check_row(result: CheckResult) -> list[str]:
    return [
        result.check.title,
        result.yours,
        result.reference,
        result.threshold,
        f"{result.points}/{result.check.points}",
        MARK[result.outcome],
    ]


def render_grade(result: GradeResult, console: Console, plain: bool) -> None:
    console.print(f"{result.kata.slug} — {result.solution}", markup=False, highlight=False)
    console.print(
        f"seed {result.seed} (replay with --seed {result.seed}), database: {result.backend}",
        markup=False,
        highlight=False,
    )
    rows = [check_row(c) for c in result.checks]
    table(console, plain, HEADERS, rows, [STYLE.get(c.outcome, "") for c in result.checks])
    render_diagnostics(result, console, plain)
    render_verdict(result, console, plain)
    console.print(f"fences — {fences.describe()}", markup=False, highlight=False, soft_wrap=plain)


def render_verdict(result: GradeResult, console: Console, plain: bool) -> None:
    """The notes, the verdict and the score (watch adds them under its counted view)."""
    for note in [*advice_notes(result), *result.notes]:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=plain)
    verdict = {
        Outcome.PASS: "PASSED",
        Outcome.FAIL: "FAILED",
        Outcome.INCONCLUSIVE: "INCONCLUSIVE",
    }.get(result.verdict, "FAILED")
    console.print(
        f"\n{verdict}: score {result.score}/{result.max_score}",
        markup=False,
        style=STYLE.get(result.verdict),
        highlight=False,
    )
    if tampered(result):
        console.print(
            "Tampering scores 0: perfkata counts and times your code from outside its reach. "
            "Take out what changes the measurement, and grade again.",
            markup=False,
        )
    elif result.gate_failed:
        console.print("A wrong answer scores 0: fix the output first.", markup=False)


def tampered(result: GradeResult) -> bool:
    learner = result.measurements.get("learner")
    return learner is not None and learner.tampering is not None


def render_diagnostics(result: GradeResult, console: Console, plain: bool) -> None:
    shown: set[str] = set()
    lines = []
    for check in result.checks:
        if check.passed or check.outcome is Outcome.NOT_RUN:
            continue
        for diagnostic in check.diagnostics:
            if diagnostic.message not in shown:
                shown.add(diagnostic.message)
                lines.append(f"  {diagnostic.message}")
        if not tampered(result):  # the kata's advice is for an honest wrong answer
            lines.append(f"  → {check.check.title}: {check.check.advice}")
    if lines:
        console.print("\nWhat to fix:", style="bold", markup=False)
        for line in lines:  # in logs a diagnostic stays one line, for grep and editors
            if plain:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:  # on a terminal its wrapped lines hang under its first word
                console.print(hanging(line), soft_wrap=False)


def hanging(line: str) -> Table:
    """`line` wrapped between words with every wrapped line under its first word."""
    lead = line[: len(line) - len(line.lstrip(" →"))]
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(lead, Text(line[len(lead) :]))
    return grid


def advice_notes(result: GradeResult) -> list[str]:
    """What the probes noted about a correct solution (a loader that costs more round
    trips than another would): shown on any grade whose output is right, never a failure."""
    if result.gate_failed:
        return []
    return [d.message for d in result.measurements["learner"].diagnostics if d.metric == NOTE]


def render_json(result: GradeResult, console: Console) -> None:
    data = result.as_dict()
    data["notes"] = [*advice_notes(result), *data["notes"]]
    console.print(json.dumps(data, indent=2), markup=False, highlight=False, soft_wrap=True)


def render_outcome_line(outcome: KataOutcome, console: Console) -> None:
    """One line per kata as a batch goes, so a long CI run shows progress."""
    reason = f" — {outcome.error.message}" if outcome.error else ""
    console.print(
        f"{outcome.kata.slug}: {outcome.verdict}, score {outcome.score}/{outcome.max_score} "
        f"({outcome.seconds:.1f} s){reason}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def render_outcomes(outcomes: list[KataOutcome], console: Console, plain: bool) -> None:
    """Every kata's grade in full, then the totals."""
    for outcome in outcomes:
        console.print()
        if outcome.result is not None:
            render_grade(outcome.result, console, plain)
        elif outcome.error is not None:
            where = f" ({outcome.error.file}:{outcome.error.line})" if outcome.error.line else ""
            console.print(
                f"{outcome.kata.slug}: error{where}: {outcome.error.message}",
                markup=False,
                highlight=False,
                soft_wrap=plain,
            )
    rows = [
        [o.kata.slug, o.verdict, f"{o.score}/{o.max_score}", f"{o.seconds:.1f} s"] for o in outcomes
    ]
    total = sum(o.score for o in outcomes), sum(o.max_score for o in outcomes)
    rows.append(["total", "", f"{total[0]}/{total[1]}", ""])
    console.print()
    table(console, plain, ("kata", "verdict", "score", "time"), rows)


def plain_text(outcomes: list[KataOutcome]) -> str:
    """The text format as a file: what the terminal shows, without colour."""
    console = Console(record=True, width=100, file=io.StringIO(), color_system=None)
    render_outcomes(outcomes, console, plain=True)
    return console.export_text()


def render_comparison(result: GradeResult, console: Console, plain: bool) -> None:
    console.print(
        f"{result.kata.slug} — {result.solution} (seed {result.seed}, {result.backend})",
        markup=False,
        highlight=False,
        soft_wrap=plain,  # on a terminal, wrapped between words
    )
    size = max(result.measurements["learner"].counters)
    headers = ("metric", "starter", "yours", "reference", "vs starter", "vs ref")
    console.print(f"\nAt the largest dataset ({size:,}):", markup=False)
    table(console, plain, headers, compare.comparison_rows(result))
    if compare.starter_memory_unmeasured(result):
        console.print(compare.NOT_MEASURED_NOTE, markup=False, highlight=False, soft_wrap=plain)
    scaling = compare.scaling_rows(result)
    if scaling:
        sizes = ", ".join(f"{s:,}" for s in sorted(result.measurements["learner"].counters))
        console.print(f"\nHow each grows with the dataset ({sizes}; N = size):", markup=False)
        table(console, plain, ("metric", "starter", "yours", "reference"), scaling)
        metric = "statements" if "statements" in compare.numeric_metrics(result) else None
        if metric:
            console.print()
            for line in compare.chart(result, metric):
                console.print(line, markup=False, highlight=False)
    render_diagnostics(result, console, plain)


def render_findings(name: str, findings: list[compare.Finding], console: Console) -> None:
    console.print(f"\nAgainst the saved run {name!r}:", markup=False)
    if not findings:
        console.print(
            "  no change in any counter, and no latency change beyond chance", markup=False
        )
    for finding in findings:
        mark = "REGRESSION" if finding.regression else "change"
        console.print(f"  {mark}: {finding.message}", markup=False, highlight=False)


def render_saved_runs(runs: list[SavedRun], console: Console, plain: bool) -> None:
    if not runs:
        console.print(
            "No saved runs yet: `perfkata bench KATA --save NAME` keeps one.", markup=False
        )
        return
    rows = [
        [
            run.name,
            run.created,
            ", ".join(run.katas),
            str(run.environment.get("cpu", "")),
            (run.environment.get("git_commit") or "")[:10],
        ]
        for run in runs
    ]
    table(console, plain, ("name", "created", "katas", "cpu", "commit"), rows)


def render_profile(summary: dict[str, Any], solution: Path, console: Console, plain: bool) -> None:
    """The tree (time) or the figures (memory), then the learner's hottest lines."""
    source = solution.read_text(encoding="utf-8").splitlines()
    if "text" in summary:
        for line in summary["text"].splitlines():
            mine = solution.name in line
            console.print(line, markup=False, highlight=False, style="bold" if mine else None)
        rows = [
            [f"{solution.name}:{n}", f"{share:.0%}", code(source, n)]
            for n, share in summary["hot_lines"]
        ]
        headers = ("your line", "share of the time", "code")
    else:
        console.print(
            f"peak {summary['peak_bytes'] / 2**20:,.1f} MiB, "
            f"{summary['allocations']:,} allocations",
            markup=False,
        )
        rows = [
            [f"{solution.name}:{n}", f"{size / 2**20:,.2f} MiB", code(source, n)]
            for n, size in summary["hot_lines"]
        ]
        headers = ("your line", "held at the peak", "code")
    console.print(
        "\nYour hottest lines:" if rows else "\nNone of the time or memory is in your file.",
        markup=False,
    )
    if rows:
        table(console, plain, headers, rows)
    console.print(f"\nHTML report: {summary['html']}", markup=False, highlight=False)


def code(source: list[str], line: int) -> str:
    text = source[line - 1].strip() if 0 < line <= len(source) else ""
    return text if len(text) <= 60 else text[:57] + "…"
