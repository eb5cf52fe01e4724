"""Evaluate a kata's rubric on measurements: each check gets a value for the learner and
the reference, a threshold judgement, points, and the diagnostics that explain it."""

from __future__ import annotations

from typing import Any

from perfkata.bench.scaling import GrowthFit, capped_fit, fit
from perfkata.bench.stats import MedianCI, PairedRatios
from perfkata.bench.thresholds import Outcome, RelativeToReference, TimedRelative
from perfkata.grader.diagnostics import Diagnostic
from perfkata.grader.results import CheckResult, Measurement
from perfkata.grader.timing import TimingResult, is_timed, reference_missed
from perfkata.katas.base import Check, Kata, judged_sizes


def metric_value(metric: str, m: Measurement) -> Any:
    if metric == "correct":
        return 1 if m.correct else 0
    if metric.endswith((":growth", ":capped_growth", ":tail")):
        name = metric.rsplit(":", 1)[0]
        sizes = judged_sizes(metric, list(m.counters))
        counts = [m.counters[s][name] for s in sizes]
        capped = metric.endswith(":capped_growth")
        return capped_fit(sizes, counts) if capped else fit(sizes, counts)
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
    if isinstance(value, PairedRatios):
        return show(metric, value.learner)
    if metric == "peak_bytes" and not isinstance(value, GrowthFit):
        return f"{value / 1024**2:.1f} MiB"
    return f"{value:g}" if isinstance(value, float) else str(value)


def show_threshold(check: Check, reference: Any) -> str:
    threshold = check.threshold
    if check.metric == "correct":
        return "= expected"
    if isinstance(threshold, RelativeToReference) and reference is not None:
        return f"{threshold} (= {show(check.metric, threshold.limit(float(reference)))})"
    if isinstance(threshold, TimedRelative):
        share = f"{threshold.fraction:g}×ref"
        if isinstance(reference, PairedRatios):
            share += f" (= {threshold.fraction * reference.reference.median:.1f}×)"
        return f">={share} & >={threshold.floor:g}×"
    return str(threshold)


def counted_outside(check: Check, learner: Measurement) -> bool:
    """Statements the parent's PostgreSQL proxy counted: evidence even when the worker
    tampered (they are what the grade reads on PostgreSQL)."""
    metric = check.metric.split(":")[0]
    return metric == "statements" and "server_statements" in learner.at_largest()


def evaluate_check(
    check: Check, learner: Measurement, reference: Measurement, timing: TimingResult | None
) -> CheckResult:
    if learner.tampering and not check.gate and not counted_outside(check, learner):
        # what the worker reported is not evidence: the row is not judged
        return CheckResult(check, Outcome.NOT_RUN, "—", "—", show_threshold(check, None), 0, [])
    if is_timed(check.metric):
        return evaluate_timed(check, learner, timing)
    yours = metric_value(check.metric, learner)
    theirs = metric_value(check.metric, reference)
    outcome = check.threshold.judge(yours, theirs)
    # Tampering, or a wrong answer found outside the counted run (a timed call's output),
    # fails the gate whatever the gate's own metric says (cached-catalog's: stale reads).
    if check.gate and (learner.tampering or not learner.correct):
        outcome = Outcome.FAIL
    return CheckResult(
        check=check,
        outcome=outcome,
        yours="tampered" if check.gate and learner.tampering else show(check.metric, yours),
        reference=show(check.metric, theirs),
        threshold=show_threshold(check, theirs),
        points=check.points if outcome is Outcome.PASS else 0,
        diagnostics=explaining(check, learner, outcome),
    )


def evaluate_timed(check: Check, learner: Measurement, timing: TimingResult | None) -> CheckResult:
    """A timed check reads its paired ratios; the reference's figure is from the same
    rounds, and when it missed its own floor an undecided check says so."""
    ratios = timing.ratios.get(check.id) if timing else None
    outcome = Outcome.NOT_RUN if ratios is None else check.threshold.judge(ratios)
    diagnostics = explaining(check, learner, outcome)
    if outcome is not Outcome.PASS and ratios is not None and reference_missed(check, ratios):
        diagnostics.insert(0, Diagnostic(check.metric, busy_machine(check, ratios)))
    return CheckResult(
        check=check,
        outcome=outcome,
        yours=show(check.metric, ratios),
        reference="—" if ratios is None else show(check.metric, ratios.reference),
        threshold=show_threshold(check, ratios),
        points=check.points if outcome is Outcome.PASS else 0,
        diagnostics=diagnostics,
    )


def busy_machine(check: Check, ratios: PairedRatios) -> str:
    floor = getattr(check.threshold, "floor", 0.0)
    return (
        f"the reference solution itself reached only {show(check.metric, ratios.reference)} "
        f"in this grade, not clear of the >={floor:g}× floor: the machine was too busy to "
        "judge the speed-up; grade again"
    )


def explaining(check: Check, learner: Measurement, outcome: Outcome) -> list[Diagnostic]:
    if outcome is Outcome.PASS:
        return []
    return [d for d in learner.diagnostics if d.metric in _explains(check.metric)]


def _explains(metric: str) -> set[str]:
    """Which diagnostics explain a failed check on this metric."""
    base = metric.split(":")[0]
    if base == "statements":
        return {"statements", "lazy_loads"}
    return {base, metric}


def evaluate(
    kata: Kata, learner: Measurement, reference: Measurement, timing: TimingResult | None
) -> list[CheckResult]:
    return [evaluate_check(check, learner, reference, timing) for check in kata.rubric]
