"""The `perfkata` command: parse, call, print, map errors to exit codes — no logic here."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperOption

from perfkata import __version__, ciconfig, fences, workspace
from perfkata.bench.export import document
from perfkata.bench.runs import RunStore, SavedRun, environment, now
from perfkata.doctor import diagnose
from perfkata.errors import (
    ExitCode,
    LearnerCodeError,
    PerfkataError,
    UsageError,
    WorkspaceError,
)
from perfkata.grader import compare, devcheck, profiling, report
from perfkata.grader.batch import KataOutcome, grade_many
from perfkata.grader.batch import exit_code as batch_exit_code
from perfkata.grader.database import resolve_db_url, resolve_redis_url
from perfkata.grader.formats import RENDERERS
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.grader.html_report import render_html
from perfkata.grader.process import DEFAULT_TIMEOUT
from perfkata.grader.results import GradeResult
from perfkata.grader.timing import TimingPlan
from perfkata.grader.watch import render_counted, render_timed, watch_and_regrade
from perfkata.katas.base import Kata
from perfkata.katas.registry import get_kata, registry


def plain_flags_in_help() -> None:
    """typer 0.2x's rich help writes every option's type beside it, flags too
    (`--debug <bool>`, as if the flag took a value), while its plain help leaves a flag's
    type out; make the rich panels do the same (older typers have no such method)."""
    typed = getattr(TyperOption, "display_type_rich", None)
    if typed is None:
        return

    def flag_without_type(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else typed(self, ctx)

    TyperOption.display_type_rich = flag_without_type  # type: ignore[method-assign]


plain_flags_in_help()
app = typer.Typer(
    help="A dojo for backend performance: fix the kata, get graded.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
dev_app = typer.Typer(help="Tools for kata authors.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
ci_app = typer.Typer(help="Grading in continuous integration.", no_args_is_help=True)
app.add_typer(ci_app, name="ci")


@dataclass
class Settings:
    debug: bool = False
    no_color: bool = False


SETTINGS = Settings()
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Workspace folder (default: ./perfkata-work, or the one you are in)."
    ),
]
RedisOption = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        help="Use this Redis (e.g. redis://127.0.0.1:6379/0) for caches, schedule claims "
        "and the job broker; default: diskcache, database claims and an in-process broker.",
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        help="Grade on this database "
        "(e.g. postgresql+psycopg://root@127.0.0.1/test); default SQLite.",
    ),
]


def out() -> Console:
    return Console(no_color=SETTINGS.no_color, highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(stderr=True, no_color=SETTINGS.no_color, highlight=False, soft_wrap=True)


def plain(console: Console) -> bool:
    return report.plain_wanted(SETTINGS.no_color, console)


def open_workspace(directory: Path | None) -> workspace.Workspace:
    ws = workspace.find_workspace(directory)
    fences.protect(ws.root / workspace.STATE_DIR)  # no graded code reads or forges progress
    ws.load_state()
    for warning in ws.warnings:
        err().print(f"warning: {warning}", markup=False)
    return ws


def print_version(wanted: bool) -> None:
    """Eager: runs while parsing, before typer insists on a command."""
    if wanted:
        out().print(f"perfkata {__version__}", markup=False)
        raise typer.Exit(0)


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text, no colour.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version.", is_eager=True, callback=print_version),
    ] = False,
) -> None:
    SETTINGS.debug, SETTINGS.no_color = debug, no_color


@app.command("list")
def list_katas(directory: DirOption = None) -> None:
    """Every kata with its difficulty and your progress."""
    ws = open_workspace(directory)
    state = ws.load_state()
    katas = registry().all()
    rows = []
    for kata in katas:
        progress = state.katas.get(kata.slug, workspace.KataProgress())
        best = "" if progress.best_score is None else f"{progress.best_score}/{kata.max_points}"
        passed_on = (progress.passed_at or "")[:10]
        rows.append([kata.slug, kata.title, kata.difficulty, progress.status, best, passed_on])
    console = out()
    headers = ("kata", "title", "difficulty", "status", "best", "passed on")
    report.table(console, plain(console), headers, rows)
    passed = [
        k for k in katas if state.katas.get(k.slug, workspace.KataProgress()).status == "passed"
    ]
    if katas and len(passed) == len(katas):
        total = sum(state.katas[k.slug].best_score or 0 for k in katas)
        most = sum(k.max_points for k in katas)
        console.print(
            f"\nEvery kata passed — {len(katas)}/{len(katas)}, total best score "
            f"{total}/{most}. Well done.",
            markup=False,
        )


@app.command()
def start(kata: str, directory: DirOption = None) -> None:
    """Copy a kata's starter files into your workspace and show its brief."""
    found = get_kata(kata)
    ws = open_workspace(directory)
    copied = ws.copy_starter(found)
    workspace.record_start(ws, found)
    console = out()
    show_brief(console, found.brief)
    brief_file = near(ws.kata_dir(found) / "BRIEF.md")
    console.print(f"\nThe brief is also in {brief_file}", markup=False)
    console.print(f"Edit {near(copied[0])}", markup=False)
    console.print(f"then run: perfkata grade {found.slug}", markup=False)


def near(path: Path) -> Path:
    """The path as the learner would type it: relative when under the current folder
    (short enough for an 80-column line)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def show_brief(console: Console, brief: str) -> None:
    """Rich's Markdown on a terminal (wrapped at its width, bullets with a hanging indent:
    the console's soft wrap would crop them); elsewhere the Markdown source, wrapped."""
    if plain(console):
        text = wrapped_markdown(brief, console.width)
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        from rich.markdown import Markdown  # ~50-70 ms (markdown-it): only briefs need it

        console.print(Markdown(brief), soft_wrap=False)


def wrapped_markdown(text: str, width: int) -> str:
    """Paragraphs and list items re-wrapped at `width` between words (a list item's lines
    under its text); headings, tables and code blocks as written."""
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if block.startswith(("|", "```", "    ")) or lines[0].startswith("#"):
            blocks.append(block)
            continue
        items = re.split(r"\n(?=\s*(?:[-*+]|\d+\.) )", block)  # one entry per list item
        blocks.append("\n".join(wrapped_item(item, width) for item in items))
    return "\n\n".join(blocks)


def wrapped_item(item: str, width: int) -> str:
    bullet = re.match(r"\s*(?:[-*+]|\d+\.) ", item)
    indent = " " * (len(bullet.group()) if bullet else 0)
    lead = item[: len(item) - len(item.lstrip())]  # a nested item keeps its depth
    return textwrap.fill(
        " ".join(item.split()),
        width,
        initial_indent=lead,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def resolve_solution(found: Kata, ws: workspace.Workspace, solution: str | None) -> Path:
    if solution in ("starter", "reference"):
        return solution_paths(found, Path())[solution]
    path = Path(solution) if solution else ws.learner_file(found)
    if not path.is_file():
        raise UsageError(
            f"There is no file at {path}.",
            hint=f"Run `perfkata start {found.slug}` first, or pass --solution PATH.",
        )
    return path.resolve()


TimeoutOption = Annotated[float, typer.Option(help="Seconds your code may run per step.")]
TimingOption = Annotated[bool, typer.Option("--timing/--no-timing", help="Measure the speed-up.")]


def chosen_kata(ws: workspace.Workspace, kata: str | None) -> Kata:
    slug = kata or workspace.current_kata(ws)
    if slug is None:
        raise UsageError(
            "Which kata? Name one, e.g. `perfkata grade n-plus-one-blog`.",
            hint="`perfkata list` shows them.",
        )
    return get_kata(slug)


def options_from_flags(
    db_url: str | None,
    redis_url: str | None,
    seed: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    timing: bool = True,
    plan: TimingPlan | None = None,
) -> GradeOptions:
    """GradeOptions from the flags grade, watch, bench and dev check share; backend URLs
    fall back to PERFKATA_DB_URL / PERFKATA_REDIS_URL."""
    checked_timeout(timeout)
    return GradeOptions(
        seed=seed,
        db_url=resolve_db_url(db_url),
        redis_url=resolve_redis_url(redis_url),
        timeout=timeout,
        timing=timing,
        plan=plan or TimingPlan(),
    )


def checked_timeout(timeout: float) -> float:
    """Refused before any worker starts: a limit no run can meet, or none at all."""
    if not math.isfinite(timeout) or timeout <= 0:
        raise UsageError(
            f"--timeout must be a positive number of seconds (got {timeout:g}), "
            f"e.g. --timeout {DEFAULT_TIMEOUT:g}."
        )
    return timeout


@app.command("grade")
def grade_command(
    kata: Annotated[str | None, typer.Argument(help="Default: the kata you started last.")] = None,
    solution: Annotated[
        str | None,
        typer.Option(help="starter, reference, or a file path; default: your workspace file."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Replay a grade's dataset.")] = None,
    db_url: DbOption = None,
    redis_url: RedisOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    timing: TimingOption = True,
    output_format: Annotated[
        str, typer.Option("--format", help="text, json, junit, github or gradescope.")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option(help="Write the results here; always written, even on errors.")
    ] = None,
    all_katas: Annotated[
        bool, typer.Option("--all", help="Grade every kata started in the workspace.")
    ] = False,
    directory: DirOption = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="http-caching: serve your app over a real loopback HTTP server "
            "(Werkzeug's) instead of calling it in-process.",
        ),
    ] = False,
) -> None:
    """Grade your solution: correctness, statements, lazy loads, speed-up, memory."""
    if output_format not in ("text", *RENDERERS):
        raise UsageError(f"Unknown format {output_format!r}; use text, {', '.join(RENDERERS)}.")
    if all_katas and (kata or solution):
        raise UsageError("--all grades every started kata; drop the kata name and --solution.")
    ws = open_workspace(directory)
    if output is not None:
        fences.protect(output)  # graded code can neither read nor rewrite the results
    options = replace(options_from_flags(db_url, redis_url, seed, timeout, timing), serve=serve)
    if serve and (options.db_url or options.redis_url):
        raise UsageError(
            "--serve reaches your app on the loopback, which a worker with --db-url or "
            "--redis-url does not have (it is off the network); http-caching uses neither."
        )
    if all_katas or output or output_format not in ("text", "json"):
        work = started_work(ws) if all_katas else [kata_and_file(ws, kata, solution)]
        grade_batch(ws, work, options, output_format, output, record=solution is None)
    found, path = kata_and_file(ws, kata, solution)
    if serve and "driven" not in found.extras:
        raise UsageError(f"--serve serves an HTTP app: {found.slug} has none (http-caching has).")
    with ProgressBar() as progress:
        result = grade(found, path, replace(options, progress=progress))
    console = out()
    if output_format == "json":
        report.render_json(result, console)
    else:
        report.render_grade(result, console, plain(console))
    if solution is None and timing:
        record_result(ws, found, result.score, result.exit_code == ExitCode.PASSED)
    raise typer.Exit(int(result.exit_code))


def record_result(ws: workspace.Workspace, found: Kata, score: int, passed: bool) -> None:
    """The grade stands whether or not it can be remembered: a workspace that cannot be
    written costs a warning, never the score or the exit code."""
    try:
        workspace.record_grade(ws, found, score, passed)
    except (OSError, WorkspaceError) as exc:
        warn_unsaved(ws, exc)


def warn_unsaved(ws: workspace.Workspace, exc: OSError | WorkspaceError) -> None:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    err().print(
        f"warning: your progress could not be saved to {ws.state_path} ({reason}); "
        "the result above stands but is not remembered. Make the folder writable.",
        markup=False,
    )


def kata_and_file(
    ws: workspace.Workspace, kata: str | None, solution: str | None
) -> tuple[Kata, Path]:
    """The kata named (or started last) and the file to grade for it."""
    found = chosen_kata(ws, kata)
    return found, resolve_solution(found, ws, solution)


def started_work(ws: workspace.Workspace) -> list[tuple[Kata, Path]]:
    work = [(k, ws.learner_file(k)) for k in registry().all() if ws.learner_file(k).is_file()]
    if not work:
        raise UsageError(
            f"No kata is started in {ws.root}.", hint="`perfkata start KATA` copies one in."
        )
    return work


def grade_batch(
    ws: workspace.Workspace,
    work: list[tuple[Kata, Path]],
    options: GradeOptions,
    output_format: str,
    output: Path | None,
    record: bool,
) -> None:
    """Grade each kata whatever happens to the others, write the results file, exit."""
    console = out()
    say = err() if output is None and output_format != "text" else console

    def done(outcome: KataOutcome) -> None:
        report.render_outcome_line(outcome, say)
        if record and options.timing and outcome.result is not None:
            passed = outcome.result.exit_code == ExitCode.PASSED
            record_result(ws, outcome.kata, outcome.score, passed)

    outcomes = grade_many(work, options, done)
    text = RENDERERS[output_format](outcomes) if output_format != "text" else None
    if output is not None:
        write_results(output, text if text is not None else report.plain_text(outcomes))
        console.print(f"Results written to {output}", markup=False)
    elif text is not None:
        console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    if output_format == "text" and output is None:
        report.render_outcomes(outcomes, console, plain(console))
    raise typer.Exit(int(batch_exit_code(outcomes)))


def write_results(path: Path, text: str) -> None:
    """Whole or not at all: a temp file beside it renamed over it (a reader never sees
    half a results file, and a link planted at the path is replaced, not followed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"Cannot write the results to {path}: {exc.strerror}.") from None


@app.command()
def watch(
    kata: Annotated[str | None, typer.Argument(help="Default: the kata you started last.")] = None,
    poll: Annotated[bool, typer.Option(help="Poll for changes (network file systems).")] = False,
    db_url: DbOption = None,
    redis_url: RedisOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    timing: TimingOption = True,
    directory: DirOption = None,
) -> None:
    """Re-grade every time you save: counted checks first, then the timing."""
    console = out()
    if not console.is_terminal:
        raise UsageError("watch needs a terminal.", hint="In scripts use `perfkata grade`.")
    ws = open_workspace(directory)
    found, path = kata_and_file(ws, kata, None)
    options = options_from_flags(db_url, redis_url, timeout=timeout, timing=timing)
    try:
        runs = itertools.count(1)
        watch_and_regrade(
            [path], lambda: regrade_once(ws, found, path, options, next(runs)), poll=poll
        )
    except KeyboardInterrupt:
        console.print("\nStopped watching.", markup=False)


def regrade_once(
    ws: workspace.Workspace, found: Kata, path: Path, options: GradeOptions, run: int = 1
) -> None:
    """One watch cycle, one view on a cleared screen: the counted checks as soon as they
    are known, completed by the timed ones; learner errors don't stop the watch."""
    console = out()
    counted: list[GradeResult] = []

    def show(result: GradeResult) -> None:
        if counted:
            render_timed(counted[0], result, console, plain(console))
        else:
            report.render_grade(result, console, plain(console))

    console.clear()
    console.rule(f"grade {run} · {path.name} · {time.strftime('%H:%M:%S')}", style="dim")
    try:
        with ProgressBar() as progress:

            def show_counted(result: GradeResult) -> None:
                counted.append(result)
                with progress.paused():  # the bar's live line would garble the view
                    render_counted(result, console, plain(console))

            result = grade(
                found, path, replace(options, progress=progress, on_counted=show_counted)
            )
    except LearnerCodeError as exc:
        show_error(exc)
    else:
        show(result)
        if options.timing:
            record_result(ws, found, result.score, result.exit_code == ExitCode.PASSED)
    console.print(
        f"\nWatching {path} — save to grade again, Ctrl-C to stop.", markup=False, soft_wrap=False
    )


class ProgressBar:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __enter__(self) -> ProgressReporter:
        console = err()
        self._bar: Progress | None = None
        if console.is_terminal and not SETTINGS.no_color:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._bar.start()
        return ProgressReporter(self._bar)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


class ProgressReporter:
    """One line for the stage under way, with a spinner and its elapsed time. A stage
    ends when the next begins (the grader says when a stage starts, not always when it
    ends). Timing rounds are counted but given no bar or ETA: the grader's cap is a
    ceiling most grades stop far below, so a bar towards it would never fill."""

    def __init__(self, bar: Progress | None) -> None:
        self.bar = bar
        self.stage: tuple[str, TaskID] | None = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.stage is None or self.stage[0] != what:
            if self.stage is not None:
                self.bar.remove_task(self.stage[1])
            self.stage = (what, self.bar.add_task(what, total=None, detail=""))
        detail = f"{done} done" if total > 1 and done else ""
        self.bar.update(self.stage[1], detail=detail)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Print something while the bar's line is put away."""
        if self.bar is None:
            yield
            return
        self.bar.stop()
        try:
            yield
        finally:
            self.bar.start()


@app.command()
def hint(
    kata: Annotated[str | None, typer.Argument(help="Default: the kata you started last.")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="The next hint, after every one shown before it.")
    ] = False,
    directory: DirOption = None,
) -> None:
    """Show the next hint for a kata (each hint is more specific than the last)."""
    ws = open_workspace(directory)
    found = chosen_kata(ws, kata)
    console = out()
    try:
        number, text, last = workspace.next_hint(ws, found)
    except (OSError, WorkspaceError) as exc:  # the hint is still shown; only remembering it failed
        number, text, last = workspace.upcoming_hint(ws, found)
        warn_unsaved(ws, exc)
    if show_all:  # a recap that still moves on: asking for every hint never shows none
        for earlier, past in enumerate(found.hints[: number - 1], 1):
            console.print(f"Hint {earlier}/{len(found.hints)}: {past}", markup=False)
    console.print(f"Hint {number}/{len(found.hints)}: {text}", markup=False)
    if last:
        console.print("That is the last hint.", markup=False)


@app.command()
def solution(
    kata: str,
    force: Annotated[bool, typer.Option("--force", help="Show it before you pass.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (with --force).")] = False,
    directory: DirOption = None,
) -> None:
    """Show the reference solution and its diff against yours — once you have passed."""
    found = get_kata(kata)
    ws = open_workspace(directory)
    if not workspace.has_passed(ws, found):
        if not force:
            raise UsageError(
                f"The reference for {found.slug} is shown once you have passed it.",
                hint=f"Keep going (`perfkata hint {found.slug}`), or use --force to see it now.",
            )
        if not yes and not typer.confirm("Show the reference solution before passing?"):
            raise typer.Exit(1)
    reference = solution_paths(found, Path())["reference"]
    console = out()
    console.print(reference.read_text(encoding="utf-8"), markup=False)
    diff = workspace.diff_against_reference(ws.learner_file(found), reference)
    console.print(diff or "Your file is identical to the reference.", markup=False)


WHO_LABEL = {"learner": "yours"}


@app.command()
def bench(
    kata: Annotated[str | None, typer.Argument(help="Default: the kata you started last.")] = None,
    solution: Annotated[
        str | None, typer.Option(help="starter, reference, or a file; default: yours.")
    ] = None,
    save: Annotated[str | None, typer.Option(help="Keep this run under NAME.")] = None,
    against: Annotated[
        str | None, typer.Option(help="Compare with a saved run: its NAME, or latest.")
    ] = None,
    fail_on_regression: Annotated[
        bool, typer.Option(help="Exit 1 when --against finds a regression (for CI).")
    ] = False,
    list_runs: Annotated[bool, typer.Option("--list", help="List the saved runs.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(help="Also write the timings in pytest-benchmark's JSON format."),
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="6 timing rounds instead of 11.")] = False,
    seed: Annotated[int | None, typer.Option(help="Replay a dataset.")] = None,
    db_url: DbOption = None,
    redis_url: RedisOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    directory: DirOption = None,
    side_by_side: Annotated[
        bool,
        typer.Option(
            "--compare", help="Starter, yours and reference side by side (what bench does)."
        ),
    ] = True,
) -> None:
    """Starter, yours and reference side by side: every metric, scaling, latency."""
    # --compare names the side-by-side the README teaches; it is bench's one view, so
    # the flag only documents it (the saved-run comparison is --against).
    del side_by_side
    ws = open_workspace(directory)
    store = RunStore(ws.root / workspace.STATE_DIR / "runs")
    console = out()
    if list_runs:
        report.render_saved_runs(store.all(), console, plain(console))
        return
    found, path = kata_and_file(ws, kata, solution)
    baseline = load_baseline(store, against, found) if against else None
    rounds = 6 if quick else 11
    if seed is None and baseline is not None:  # the same dataset, so counters compare
        seed = baseline.katas[found.slug].seed
    plan = TimingPlan(min_rounds=rounds, max_rounds=rounds)
    options = options_from_flags(db_url, redis_url, seed, timeout, plan=plan)
    with ProgressBar() as progress:
        result = grade(found, path, replace(options, progress=progress, count_starter=True))
    report.render_comparison(result, console, plain(console))
    current = compare.kata_run(result)
    if save:
        run = SavedRun(save, now(), environment(ws.root), {found.slug: current})
        console.print(f"\nSaved as {save!r} in {store.save(run)}", markup=False)
    if html_file is not None:
        write_results(html_file, render_html(result))
        console.print(f"HTML report written to {html_file}", markup=False)
    if export is not None:
        samples = result.timing.samples if result.timing else {}
        entries = [(found.slug, WHO_LABEL.get(v, v), samples.get(v, [])) for v in compare.VARIANTS]
        write_results(export, json.dumps(document(entries, environment(ws.root)), indent=2))
        console.print(f"Timings written to {export} (pytest-benchmark format)", markup=False)
    if baseline is not None:
        findings = compare.regressions(found, baseline.katas[found.slug], current)
        report.render_findings(baseline.name, findings, console)
        if fail_on_regression and any(f.regression for f in findings):
            raise typer.Exit(int(ExitCode.FAILED))


def load_baseline(store: RunStore, name: str, kata: Kata) -> SavedRun:
    run = store.load(name)
    if run is None:
        raise UsageError(
            f"There is no saved run {name!r}.",
            hint="`perfkata bench --list` shows them; `--save NAME` keeps one.",
        )
    if kata.slug not in run.katas:
        raise UsageError(f"The saved run {run.name!r} has no {kata.slug} measurements.")
    return run


@app.command("profile")
def profile_command(
    kata: Annotated[str | None, typer.Argument(help="Default: the kata you started last.")] = None,
    solution: Annotated[
        str | None, typer.Option(help="starter, reference, or a file; default: yours.")
    ] = None,
    memory: Annotated[bool, typer.Option(help="Profile memory (memray), not time.")] = False,
    seed: Annotated[int | None, typer.Option(help="Replay a dataset.")] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    directory: DirOption = None,
) -> None:
    """Where the time (pyinstrument) or memory (memray) goes, at the largest dataset."""
    checked_timeout(timeout)
    ws = open_workspace(directory)
    found, path = kata_and_file(ws, kata, solution)
    out_dir = ws.root / workspace.STATE_DIR / "profiles"
    console = out()
    console.print(
        f"profiling {path.name} at {found.largest:,} ({'memory' if memory else 'time'})…",
        markup=False,
    )
    summary = profiling.profile(
        found, path, out_dir, memory, seed if seed is not None else 1, timeout
    )
    report.render_profile(summary, path, console, plain(console))


@ci_app.command("init")
def ci_init(
    directory: Annotated[Path, typer.Option("--dir", help="The repository's root.")] = Path(),
    package: Annotated[
        str | None,
        typer.Option(
            help="What CI pip-installs: perfkata==VERSION, a git or archive URL; "
            "default: where this perfkata was installed from."
        ),
    ] = None,
    postgres: Annotated[bool, typer.Option(help="Grade on a PostgreSQL service.")] = False,
    redis: Annotated[bool, typer.Option(help="Use a Redis service (cache, broker).")] = False,
    minutes: Annotated[int, typer.Option(help="The CI job's time limit.")] = 30,
    force: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Write a GitHub Actions workflow and a GitLab CI job that grade every started kata."""
    choice = ciconfig.CiChoice(package or ciconfig.installed_package(), postgres, redis, minutes)
    for path in ciconfig.write_ci_files(directory, choice, force):
        out().print(f"wrote {path}", markup=False)
    out().print(f"CI installs {choice.package}", markup=False)
    out().print(
        "Commit them with perfkata-work/; each push is graded. GitHub shows the problems "
        "at the learners' lines; GitLab shows a JUnit test report.",
        markup=False,
    )


@app.command()
def doctor(
    db_url: DbOption = None, redis_url: RedisOption = None, directory: DirOption = None
) -> None:
    """Check Python, packages, backends (SQLite, PostgreSQL, Redis) and your workspace."""
    findings = diagnose(workspace.find_workspace(directory), db_url, redis_url)
    console = out()
    rows = [[f.area, f.status, f.detail] for f in findings]
    report.table(console, plain(console), ("what", "status", "detail"), rows)
    raise typer.Exit(0 if all(f.ok for f in findings) else 1)


@app.command()
def reset(
    kata: Annotated[str | None, typer.Argument(help="Default: the kata you started last.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask [y/N] first.")] = False,
    directory: DirOption = None,
) -> None:
    """Restore the starter file; yours is kept in .perfkata/backups/ first."""
    ws = open_workspace(directory)
    found = chosen_kata(ws, kata)
    if not yes and not typer.confirm(
        f"Replace {ws.learner_file(found)} with the starter? (yours is backed up first)"
    ):
        raise typer.Exit(1)
    backup = workspace.reset_to_starter(ws, found)
    if backup is not None:
        out().print(f"Your previous files are in {backup}", markup=False)
    out().print(f"Restored the starter: {ws.learner_file(found)}", markup=False)


@dev_app.command("check")
def dev_check(
    kata: Annotated[list[str] | None, typer.Argument(help="Default: every kata.")] = None,
    db_url: DbOption = None,
    redis_url: RedisOption = None,
    seed: Annotated[int | None, typer.Option(help="Dataset seed.")] = None,
) -> None:
    """Prove every starter fails, every reference passes, and counts are deterministic."""
    katas = [get_kata(slug) for slug in kata] if kata else registry().all()
    options = options_from_flags(db_url, redis_url, seed)
    rows: list[devcheck.DevCheckRow] = []
    for found in katas:
        rows += devcheck.check_kata(found, options, lambda m: err().print(m, markup=False))
    console = out()
    report.table(
        console,
        plain(console),
        ("kata", "check", "ok", "detail"),
        [[r.kata, r.check, "ok" if r.ok else "FAILED", r.detail] for r in rows],
    )
    raise typer.Exit(0 if all(r.ok for r in rows) else 1)


def show_error(exc: PerfkataError) -> None:
    console = err()
    console.print(f"error: {exc.message}", markup=False, style="bold red")
    if exc.hint:
        console.print(exc.hint, markup=False)
    if SETTINGS.debug and exc.details:
        console.print(exc.details, markup=False)
    elif isinstance(exc, LearnerCodeError) and exc.details:
        console.print("(run with --debug to see the full traceback)", markup=False)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job's time limit, `kill`): unwinds like Ctrl-C, so every worker is
    killed and every schema, key and temp folder of the grade removed on the way out."""


TERMINATED: list[bool] = []  # set by the handler: click re-raises a plain KeyboardInterrupt


def on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut clean-up short
    TERMINATED.append(True)
    raise Terminated()


def terminated() -> None:
    err().print("Terminated; the grade's workers and resources were cleaned up.", markup=False)
    sys.exit(128 + signal.SIGTERM)


def main() -> None:
    """Entry point: typer handles usage errors (exit 2) and exits; the rest is mapped here."""
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        app()
    except PerfkataError as exc:
        show_error(exc)
        sys.exit(int(exc.exit_code))
    except SystemExit:
        if TERMINATED:  # typer turned the interrupt into exit 130 after clean-up ran
            terminated()
        raise
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated) or TERMINATED:
            terminated()
        err().print("Interrupted.", markup=False)
        sys.exit(130)
    except Exception as exc:  # a perfkata bug: say so, keep the traceback for --debug
        err().print(
            f"perfkata hit an internal error: {exc!r}. Run with --debug and report it.",
            markup=False,
        )
        if SETTINGS.debug:
            traceback.print_exc()
        sys.exit(int(ExitCode.INTERNAL))
