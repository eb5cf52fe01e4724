"""Grade several katas in a row for CI: every kata gets an outcome, also when the
learner's code crashes or hangs or perfkata itself fails — that kata then scores 0 with
the reason — so a results file can always be written."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from perfkata.bench.thresholds import Outcome
from perfkata.errors import ExitCode, LearnerCodeError, PerfkataError
from perfkata.grader.grade import GradeOptions, grade, start_spares
from perfkata.grader.results import GradeResult
from perfkata.grader.spares import Spares
from perfkata.katas.base import Kata


@dataclass
class KataError:
    """Why a kata could not be graded: the learner's code, or perfkata's harness."""

    kind: str  # "learner", "usage" (e.g. a service unreachable), "service" or "internal"
    message: str
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "file": self.file, "line": self.line}


@dataclass
class KataOutcome:
    kata: Kata
    solution: Path
    seconds: float
    result: GradeResult | None = None
    error: KataError | None = None

    @property
    def verdict(self) -> str:
        return self.result.verdict.value if self.result else Outcome.ERROR.value

    @property
    def score(self) -> int:
        return self.result.score if self.result else 0

    @property
    def max_score(self) -> int:
        return self.kata.max_points

    def as_dict(self) -> dict[str, Any]:
        return {
            "kata": self.kata.slug,
            "solution": str(self.solution),
            "verdict": self.verdict,
            "score": self.score,
            "max_score": self.max_score,
            "seconds": round(self.seconds, 2),
            "error": self.error.as_dict() if self.error else None,
            "grade": self.result.as_dict() if self.result else None,
        }


ERROR_KINDS = {ExitCode.USAGE: "usage", ExitCode.SERVICE: "service"}


def grade_one(kata: Kata, solution: Path, options: GradeOptions) -> KataOutcome:
    start = time.monotonic()
    try:
        result = grade(kata, solution, options)
    except LearnerCodeError as exc:
        error = KataError("learner", one_sentence(exc), exc.file, exc.line)
        return KataOutcome(kata, solution, time.monotonic() - start, error=error)
    except PerfkataError as exc:  # unreachable service, perfkata's harness
        kind = ERROR_KINDS.get(exc.exit_code, "internal")
        error = KataError(kind, one_sentence(exc))
        return KataOutcome(kata, solution, time.monotonic() - start, error=error)
    except Exception as exc:  # a perfkata bug must not cost the other katas their grade
        message = f"perfkata hit an internal error: {exc!r}\n{traceback.format_exc(limit=5)}"
        error = KataError("internal", message)
        return KataOutcome(kata, solution, time.monotonic() - start, error=error)
    return KataOutcome(kata, solution, time.monotonic() - start, result=result)


def one_sentence(exc: PerfkataError) -> str:
    return f"{exc.message} {exc.hint}" if exc.hint else exc.message


def grade_many(
    work: list[tuple[Kata, Path]],
    options: GradeOptions,
    on_done: Callable[[KataOutcome], None] = lambda outcome: None,
) -> list[KataOutcome]:
    """Each kata in turn; the next kata's workers start while this one counts (warm
    workers, grader/spares.py), settled before this one times anything."""
    outcomes = []
    with Spares() as spares:
        for index, (kata, solution) in enumerate(work):
            following = work[index + 1] if index + 1 < len(work) else None
            ahead = replace(options, spares=spares, started=next_spares(spares, following, options))
            outcome = grade_one(kata, solution, ahead)
            on_done(outcome)
            outcomes.append(outcome)
    return outcomes


def next_spares(
    spares: Spares, following: tuple[Kata, Path] | None, options: GradeOptions
) -> Callable[[], None]:
    if following is None:
        return lambda: None
    return lambda: start_spares(spares, following[0], following[1], options)


def exit_code(outcomes: list[KataOutcome]) -> ExitCode:
    """0 only when everything passed; a failure or error beats an inconclusive timing;
    a service that failed beats everything (the run says nothing about the code)."""
    verdicts = {o.verdict for o in outcomes}
    if any(o.error is not None and o.error.kind == "service" for o in outcomes):
        return ExitCode.SERVICE  # some kata could not be graded at all: not a verdict
    if verdicts <= {Outcome.PASS.value} and outcomes:
        return ExitCode.PASSED
    if verdicts & {Outcome.FAIL.value, Outcome.ERROR.value}:
        return ExitCode.FAILED
    return ExitCode.INCONCLUSIVE


def results_document(outcomes: list[KataOutcome]) -> dict[str, Any]:
    """The JSON results file (schema documented in docs/results.md)."""
    return {
        "schema": "perfkata.results/1",
        "passed": exit_code(outcomes) is ExitCode.PASSED,
        "score": sum(o.score for o in outcomes),
        "max_score": sum(o.max_score for o in outcomes),
        "katas": [o.as_dict() for o in outcomes],
    }
