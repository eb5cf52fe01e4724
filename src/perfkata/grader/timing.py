"""Interleaved timing: starter, learner and reference, each in its own process, sampled
in a random order every round so drift on a noisy machine hits all three alike.

Each round yields one paired ratio starter/learner. The verdict uses the median ratio's
confidence interval: decided only once the whole interval is on one side of the
threshold, otherwise more rounds up to a cap, then "inconclusive". Every round also
times the reference twice; their ratio measures the machine's own noise.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perfkata.bench.stats import MedianCI
from perfkata.bench.thresholds import Outcome, Threshold
from perfkata.grader.process import WorkerProcess

NOISY_MACHINE = 0.10  # the reference differs from itself by more than 10 % → say so


@dataclass(frozen=True)
class TimingPlan:
    min_rounds: int = 6  # the fewest rounds that give a 95 % order-statistic interval
    max_rounds: int = 31
    warmup_rounds: int = 0  # the counting pass already ran every workload at this size


@dataclass
class TimingResult:
    samples: dict[str, list[float]] = field(default_factory=dict)
    speedup: MedianCI | None = None
    reference_speedup: MedianCI | None = None  # starter/reference: what is achievable
    noise: MedianCI | None = None
    rounds: int = 0

    @property
    def noise_level(self) -> float:
        """Median relative difference between two timings of the same reference code."""
        if self.noise is None or not self.noise.samples:
            return 0.0
        return statistics.median(abs(math.log(r)) for r in self.noise.samples if r > 0)

    @property
    def noisy(self) -> bool:
        return self.noise_level > NOISY_MACHINE

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "speedup": self.speedup.as_dict() if self.speedup else None,
            "reference_speedup": (
                self.reference_speedup.as_dict() if self.reference_speedup else None
            ),
            "noise": self.noise.as_dict() if self.noise else None,
            "noise_level": self.noise_level,
            "median_seconds": {k: sorted(v)[len(v) // 2] for k, v in self.samples.items() if v},
        }


def _one_round(workers: dict[str, WorkerProcess], rng: random.Random) -> dict[str, float]:
    slots = ["starter", "learner", "reference", "reference-again"]
    rng.shuffle(slots)
    sample: dict[str, float] = {}
    for slot in slots:
        worker = workers["reference" if slot == "reference-again" else slot]
        sample[slot] = float(worker.call({"op": "sample"}))
    return sample


def measure_speedup(
    workers: dict[str, WorkerProcess],
    threshold: Threshold,
    plan: TimingPlan,
    seed: int,
    on_round: Callable[[int, int], None] = lambda done, cap: None,
) -> TimingResult:
    rng = random.Random(seed)
    for _ in range(plan.warmup_rounds):
        _one_round(workers, rng)
    result = TimingResult(samples={k: [] for k in ("starter", "learner", "reference")})
    ratios: list[float] = []
    reference_ratios: list[float] = []
    noise: list[float] = []
    while result.rounds < plan.max_rounds:
        sample = _one_round(workers, rng)
        for name in ("starter", "learner", "reference"):
            result.samples[name].append(sample[name])
        ratios.append(sample["starter"] / max(sample["learner"], 1e-9))
        reference_ratios.append(sample["starter"] / max(sample["reference"], 1e-9))
        noise.append(sample["reference"] / max(sample["reference-again"], 1e-9))
        result.rounds += 1
        on_round(result.rounds, plan.max_rounds)
        result.speedup, result.noise = MedianCI(tuple(ratios)), MedianCI(tuple(noise))
        result.reference_speedup = MedianCI(tuple(reference_ratios))
        decided = threshold.judge(result.speedup) is not Outcome.INCONCLUSIVE
        if result.rounds >= plan.min_rounds and decided:
            break
    return result
