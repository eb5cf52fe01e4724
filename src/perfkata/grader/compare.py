"""`perfkata bench --compare`: starter, yours and reference side by side — every counter,
latency with its interval, how each metric grows with the dataset, a terminal chart —
and the comparison of a run with a saved one, judged as asv does: a latency change is a
regression only beyond a factor and beyond chance; counters compare exactly."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from perfkata.bench.runs import KataRun
from perfkata.bench.scaling import fit
from perfkata.bench.stats import MedianCI, mann_whitney_p
from perfkata.bench.thresholds import Compare, Flat, RelativeToReference
from perfkata.grader.results import NOT_DETERMINISTIC, GradeResult
from perfkata.katas.base import Kata

VARIANTS = ("starter", "learner", "reference")
SKIPPED = ("correct", "orm_statements", "driver_statements")  # details of "statements"
BAR_WIDTH = 36
NOT_MEASURED = "not measured*"
NOT_MEASURED_NOTE = (
    "* The starter's memory is not measured: grading never judges it, and a traced run "
    "costs several untraced ones."
)


def numeric_metrics(result: GradeResult) -> list[str]:
    largest = result.measurements["learner"].at_largest()
    return [
        name
        for name, value in largest.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and name not in SKIPPED
        and not (name == "bypassed_statements" and not value)  # shown when it matters
    ]


def shown(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


def shown_metric(name: str, value: Any) -> str:
    """A counter as the grade table writes it: bytes in MiB, the rest as numbers."""
    if name.startswith("peak_bytes") and isinstance(value, int | float):
        return f"{value / 2**20:,.1f} MiB"
    return shown(value)


def duration(seconds: float) -> str:
    """Seconds with a unit a person reads at a glance: 790 ms, 1.44 s, 85 µs."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def metric_words(kata: Kata) -> dict[str, str]:
    """The grade table's words for a metric: the title of the check judging exactly it."""
    words = {name: name.replace("_", " ") for name in ("lazy_loads", "unused_eager_loads")}
    words |= {"peak_bytes": "peak memory", "bypassed_statements": "statements around SQLAlchemy"}
    words |= {c.metric: c.title for c in kata.rubric if ":" not in c.metric}
    return words


def label(kata: Kata, name: str) -> str:
    return metric_words(kata).get(name, name.replace("_", " "))


def ratio(value: Any, base: Any) -> str:
    if not isinstance(value, int | float) or not isinstance(base, int | float) or not base:
        return "—"
    share = value / base
    return f"{share:,.0f}×" if share >= 100 else f"{share:.2g}×"


def cell(name: str, variant: str, value: Any) -> str:
    # Grading never needs the starter's memory, so its traced pass is skipped (see
    # grade.measure_all): say so rather than leave a dash that reads as "zero".
    if value is None and variant == "starter" and name.startswith("peak_bytes"):
        return NOT_MEASURED
    return shown_metric(name, value)


def comparison_rows(result: GradeResult) -> list[list[str]]:
    """metric | starter | yours | reference | yours ÷ starter | yours ÷ reference."""
    at = {v: result.measurements[v].at_largest() for v in VARIANTS}
    rows = []
    for name in numeric_metrics(result):
        values = [at[v].get(name) for v in VARIANTS]
        cells = [cell(name, v, value) for v, value in zip(VARIANTS, values, strict=True)]
        rows.append(
            [
                label(result.kata, name),
                *cells,
                ratio(values[1], values[0]),
                ratio(values[1], values[2]),
            ]
        )
    if result.timing is not None:
        medians = {v: MedianCI(tuple(result.timing.samples[v])) for v in VARIANTS}
        cells = [
            f"{duration(m.median)} [{duration(m.low)}–{duration(m.high)}]" for m in medians.values()
        ]
        rows.append(
            [
                "latency",
                *cells,
                ratio(medians["learner"].median, medians["starter"].median),
                ratio(medians["learner"].median, medians["reference"].median),
            ]
        )
    return rows


def starter_memory_unmeasured(result: GradeResult) -> bool:
    at = result.measurements["starter"].at_largest()
    return "peak_bytes" in numeric_metrics(result) and at.get("peak_bytes") is None


def scaling_rows(result: GradeResult) -> list[list[str]]:
    """metric | the fitted growth of each solution over the dataset sizes."""
    sizes = sorted(result.measurements["learner"].counters)
    if len(sizes) < 2:
        return []
    rows = []
    for name in numeric_metrics(result):
        fits = []
        for variant in VARIANTS:
            counters = result.measurements[variant].counters
            values = [counters[s].get(name) for s in sizes]
            numbers = [float(v) for v in values if isinstance(v, int | float)]
            fits.append(fit(sizes, numbers).describe() if len(numbers) == len(sizes) else "—")
        if any(f != "—" for f in fits):  # memory is measured at the judged sizes only
            rows.append([label(result.kata, name), *fits])
    return rows


def chart(result: GradeResult, metric: str) -> list[str]:
    """A bar per solution per size, on one scale: reads at 80 columns in a log too."""
    sizes = sorted(result.measurements["learner"].counters)
    values = {
        (v, s): float(result.measurements[v].counters[s].get(metric, 0) or 0)
        for v in VARIANTS
        for s in sizes
    }
    top = max(values.values(), default=0) or 1
    lines = [f"{label(result.kata, metric)} by dataset size (one scale, max {shown(top)})"]
    for size in sizes:
        for variant in VARIANTS:
            value = values[(variant, size)]
            bar = "█" * max(1 if value else 0, round(value / top * BAR_WIDTH))
            who = "yours" if variant == "learner" else variant
            lines.append(f"{size:>7,} {who:<9} {bar} {shown(value)}")
    return lines


def kata_run(result: GradeResult) -> KataRun:
    learner = result.measurements["learner"]
    counters = {
        str(size): {k: float(v) for k, v in c.items() if isinstance(v, int | float)}
        for size, c in learner.counters.items()
    }
    seconds, ratios = [], []
    if result.timing is not None:
        mine, reference = result.timing.samples["learner"], result.timing.samples["reference"]
        seconds = list(mine)
        ratios = [a / b for a, b in zip(mine, reference, strict=True) if b > 0]
    return KataRun(counters, seconds, ratios, result.seed)


@dataclass(frozen=True)
class Finding:
    message: str
    regression: bool


def lower_is_better(kata: Kata) -> dict[str, bool]:
    """What the rubric says each metric should do: shrink (statements) or grow (hits)."""
    found = {}
    for check in kata.rubric:
        base = check.metric.split(":")[0]
        threshold = check.threshold
        if isinstance(threshold, Flat):
            found[base] = True
        elif isinstance(threshold, Compare | RelativeToReference):
            zero = isinstance(threshold, Compare) and threshold.limit == 0  # "==0": none wanted
            found[base] = threshold.op.startswith("<") or (threshold.op == "==" and zero)
    return found


def regressions(
    kata: Kata, old: KataRun, new: KataRun, factor: float = 1.5, alpha: float = 0.05
) -> list[Finding]:
    findings = counter_changes(kata, old, new)
    if old.ratios and new.ratios:
        change = statistics.median(new.ratios) / statistics.median(old.ratios)
        p = mann_whitney_p(old.ratios, new.ratios)
        slower = change > factor and p < alpha
        if slower or (1 / factor > change and p < alpha):
            word = "slower" if slower else "faster"
            findings.append(
                Finding(
                    f"latency (relative to the reference): {change:.2f}× {word}, p = {p:.3f}",
                    slower,
                )
            )
    return findings


def counter_changes(kata: Kata, old: KataRun, new: KataRun) -> list[Finding]:
    direction = lower_is_better(kata)
    findings = []
    for size in sorted(set(old.counters) & set(new.counters), key=int):
        for name, before in old.counters[size].items():
            after = new.counters[size].get(name)
            if after is None or after == before or name in NOT_DETERMINISTIC:
                continue
            worse = direction.get(name)
            regression = worse is not None and (after > before) == worse
            findings.append(
                Finding(f"{name} at {size}: {shown(before)} → {shown(after)}", regression)
            )
    return findings
