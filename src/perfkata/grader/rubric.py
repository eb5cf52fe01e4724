"""Evaluate a kata's rubric on measurements: each check gets a value for the learner and
the reference, a threshold judgement, points, and the diagnostics that explain it."""

from __future__ import annotations

from typing import Any

from perfkata.bench.scaling import GrowthFit, fit
from perfkata.bench.stats import MedianCI
from perfkata.bench.thresholds import Outcome, RelativeToReference
from perfkata.grader.results import CheckResult, Measurement
from perfkata.grader.timing import TimingResult
from perfkata.katas.base import Check, Kata, judged_sizes


def metric_value(metric: str, m: Measurement, speedup: MedianCI | None) -> Any:
    if metric == "correct":
        return 1 if m.correct else 0
    if metric == "speedup":
        return speedup
    if metric.endswith((":growth", ":tail")):
        name = metric.rsplit(":", 1)[0]
        sizes = judged_sizes(metric, list(m.counters))
        return fit(sizes, [m.counters[s][name] for s in sizes])
    return m.at_largest()[metric]


def show(metric: str, value: Any) -> str:
    if value is None:
        return "—"
    if metric == "correct":
        return "yes" if value else "no"
    if isinstance(value, GrowthFit):
        if metric.startswith("peak_bytes"):
            return f"{value.slope:+.0f} B per row"
        return value.describe()
    if isinstance(value, MedianCI):
        return f"{value.median:.1f}× [{value.low:.1f}–{value.high:.1f}]"
    if metric == "peak_bytes" and not isinstance(value, GrowthFit):
        return f"{value / 1024**2:.1f} MiB"
    return f"{value:g}" if isinstance(value, float) else str(value)


def show_threshold(check: Check, reference: Any) -> str:
    threshold = check.threshold
    if check.metric == "correct":
        return "= expected"
    if isinstance(threshold, RelativeToReference) and reference is not None:
        return f"{threshold} (= {show(check.metric, threshold.limit(float(reference)))})"
    return str(threshold)


def evaluate_check(
    check: Check, learner: Measurement, reference: Measurement, timing: TimingResult | None
) -> CheckResult:
    speedup = timing.speedup if timing else None
    yours = metric_value(check.metric, learner, speedup)
    ref_speedup = timing.reference_speedup if timing else None
    theirs = metric_value(check.metric, reference, ref_speedup)
    outcome = Outcome.NOT_RUN if yours is None else check.threshold.judge(yours, theirs)
    return CheckResult(
        check=check,
        outcome=outcome,
        yours=show(check.metric, yours),
        reference=show(check.metric, theirs),
        threshold=show_threshold(check, theirs),
        points=check.points if outcome is Outcome.PASS else 0,
        diagnostics=[d for d in learner.diagnostics if d.metric in _explains(check.metric)]
        if outcome is not Outcome.PASS
        else [],
    )


def _explains(metric: str) -> set[str]:
    """Which diagnostics explain a failed check on this metric."""
    base = metric.split(":")[0]
    if base == "statements":
        return {"statements", "lazy_loads"}
    return {base}


def evaluate(
    kata: Kata, learner: Measurement, reference: Measurement, timing: TimingResult | None
) -> list[CheckResult]:
    return [evaluate_check(check, learner, reference, timing) for check in kata.rubric]
