"""`pytest --perfkata [KATA…]`: every rubric check of every started kata becomes a
pytest test, so classroom tools that run pytest grade katas unchanged. Inert unless
--perfkata is given. Each kata is graded once, by its first check; the rest read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.batch import KataOutcome, grade_one
from perfkata.grader.formats import check_text
from perfkata.grader.grade import GradeOptions
from perfkata.katas.base import Kata
from perfkata.katas.registry import get_kata, registry
from perfkata.workspace import find_workspace


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfkata", "grade perfkata katas as tests")
    group.addoption(
        "--perfkata",
        nargs="*",
        metavar="KATA",
        default=None,
        help="one test per rubric check of these katas (default: every started kata)",
    )
    group.addoption("--perfkata-dir", default=None, help="the workspace (default: as perfkata)")
    group.addoption(
        "--perfkata-no-timing", action="store_true", help="skip the speed-up checks (faster)"
    )


class CheckFailed(Exception):
    """A rubric check that failed; its text is the grade's diagnostics and advice."""


class CheckInconclusive(CheckFailed):
    """A timing check the machine was too noisy to decide: not a pass, not a skip (the CLI
    exits 3) — reported as its own outcome, INCONCLUSIVE, and the run does not pass."""


INCONCLUSIVE = ("perfkata", "inconclusive")  # marks the report (user_properties travel with it)


class KataGrades:
    """The grade of each kata, made on first use and kept for the session."""

    def __init__(self, options: GradeOptions) -> None:
        self.options = options
        self.done: dict[str, KataOutcome] = {}

    def of(self, kata: Kata, solution: Path) -> KataOutcome:
        if kata.slug not in self.done:
            self.done[kata.slug] = grade_one(kata, solution, self.options)
        return self.done[kata.slug]


class CheckItem(pytest.Item):
    def __init__(self, *, kata: Kata, check_id: str, solution: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kata, self.check_id, self.solution = kata, check_id, solution

    def runtest(self) -> None:
        outcome = self.config.stash[GRADES].of(self.kata, self.solution)
        if outcome.error is not None:
            raise CheckFailed(f"{self.kata.slug} could not be graded: {outcome.error.message}")
        assert outcome.result is not None
        check = next(c for c in outcome.result.checks if c.check.id == self.check_id)
        if check.outcome is Outcome.NOT_RUN:
            pytest.skip("not run (timing skipped, or the output is wrong)")
        if check.outcome is Outcome.INCONCLUSIVE:
            self.user_properties.append(INCONCLUSIVE)
            raise CheckInconclusive(
                f"inconclusive: {check.check.title} {check.yours} against {check.threshold} — "
                "the machine was too noisy to decide; grade again on a quieter machine"
            )
        if check.check.gate is False and outcome.result.gate_failed:
            raise CheckFailed("the output is wrong, so every check scores 0 (see 'correct')")
        if not check.passed:
            raise CheckFailed(check_text(check))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.solution, None, f"perfkata {self.kata.slug}: {self.check_id}"


GRADES = pytest.StashKey[KataGrades]()


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """An inconclusive check counts as a failure for the exit code, shown apart."""
    if report.when == "call" and report.failed and INCONCLUSIVE in report.user_properties:
        return "inconclusive", "I", "INCONCLUSIVE"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Why each inconclusive check was undecided (the failures section lists only 'failed')."""
    reports = terminalreporter.stats.get("inconclusive", [])
    if reports:
        terminalreporter.write_sep("=", "perfkata: inconclusive checks", yellow=True)
        for report in reports:
            terminalreporter.write_line(f"INCONCLUSIVE {report.nodeid}: {report.longreprtext}")


class KataCollector(pytest.Collector):
    def __init__(self, *, kata: Kata, solution: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kata, self.solution = kata, solution

    def collect(self) -> Iterator[pytest.Item]:
        for check in self.kata.rubric:
            yield CheckItem.from_parent(
                self, name=check.id, kata=self.kata, check_id=check.id, solution=self.solution
            )


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    chosen = config.getoption("--perfkata")
    if chosen is None:
        return
    options = GradeOptions(timing=not config.getoption("--perfkata-no-timing"))
    config.stash[GRADES] = KataGrades(options)
    folder = config.getoption("--perfkata-dir")
    ws = find_workspace(Path(folder) if folder else None)
    katas = [get_kata(slug) for slug in chosen] or registry().all()
    for kata in katas:
        solution = ws.learner_file(kata)
        if not chosen and not solution.is_file():
            continue  # "every started kata"; a named kata that is missing fails loudly
        collector = KataCollector.from_parent(
            session,
            name=kata.slug,
            nodeid=f"perfkata:{kata.slug}",
            kata=kata,
            solution=solution,
        )
        items.extend(collector.collect())
