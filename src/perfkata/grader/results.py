"""What a grade produces: measurements per solution, a result per check, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfkata.bench.thresholds import Outcome
from perfkata.errors import ExitCode
from perfkata.grader.diagnostics import Diagnostic
from perfkata.grader.timing import TimingResult
from perfkata.katas.base import Check, Kata

# Counters that wobble run to run: never compared for equality (dev check, bench --against).
NOT_DETERMINISTIC = (
    "peak_bytes",  # allocation peaks wobble by a few KiB run to run
    "throughput",  # a ratio of two wall-clock times
)


@dataclass
class Measurement:
    """Deterministic counters of one solution at every size, plus its memory pass."""

    label: str
    counters: dict[int, dict[str, Any]]  # size -> {"statements": 3, "peak_bytes": …}
    diagnostics: list[Diagnostic]  # at the largest size
    mismatch: str | None = None  # first difference from the oracle, if any
    tampering: str | None = None  # "tampering detected: …": the gate fails, the kata scores 0

    @property
    def correct(self) -> bool:
        return self.mismatch is None

    def at_largest(self) -> dict[str, Any]:
        return self.counters[max(self.counters)]

    @property
    def peak_bytes(self) -> int:
        """Peak allocation at the largest size (0 when memory was not measured)."""
        return int(self.at_largest().get("peak_bytes", 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "counters": {str(size): c for size, c in self.counters.items()},
            "peak_bytes": self.peak_bytes,
            "correct": self.correct,
            "mismatch": self.mismatch,
        }


@dataclass
class CheckResult:
    check: Check
    outcome: Outcome
    yours: str
    reference: str
    threshold: str
    points: int
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.check.id,
            "title": self.check.title,
            "outcome": self.outcome.value,
            "yours": self.yours,
            "reference": self.reference,
            "threshold": self.threshold,
            "points": self.points,
            "max_points": self.check.points,
            "advice": None if self.passed else self.check.advice,
            "diagnostics": [d.as_dict() for d in self.diagnostics],
        }


@dataclass
class GradeResult:
    kata: Kata
    solution: str
    seed: int
    backend: str
    checks: list[CheckResult]
    measurements: dict[str, Measurement]
    timing: TimingResult | None
    notes: list[str] = field(default_factory=list)

    @property
    def gate_failed(self) -> bool:
        return any(c.check.gate and not c.passed for c in self.checks)

    @property
    def score(self) -> int:
        return 0 if self.gate_failed else sum(c.points for c in self.checks)

    @property
    def max_score(self) -> int:
        return self.kata.max_points

    @property
    def verdict(self) -> Outcome:
        outcomes = {c.outcome for c in self.checks}
        if self.gate_failed or Outcome.FAIL in outcomes or Outcome.ERROR in outcomes:
            return Outcome.FAIL
        if Outcome.INCONCLUSIVE in outcomes:
            return Outcome.INCONCLUSIVE
        return Outcome.PASS

    @property
    def exit_code(self) -> ExitCode:
        return {
            Outcome.PASS: ExitCode.PASSED,
            Outcome.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
        }.get(self.verdict, ExitCode.FAILED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "perfkata.grade/1",
            "kata": self.kata.slug,
            "solution": self.solution,
            "seed": self.seed,
            "backend": self.backend,
            "verdict": self.verdict.value,
            "score": self.score,
            "max_score": self.max_score,
            "checks": [c.as_dict() for c in self.checks],
            "measurements": {k: m.as_dict() for k, m in self.measurements.items()},
            "timing": self.timing.as_dict() if self.timing else None,
            "notes": self.notes,
        }
