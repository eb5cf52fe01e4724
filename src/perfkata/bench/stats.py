"""Pure statistics: raw samples in, derived fields out, one `as_dict()`.

The median's confidence interval uses order statistics (the binomial / sign-test
interval): distribution-free, exact, and cheap — no resampling, so two runs on the same
samples give the same interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any


def median_rank_bounds(n: int, confidence: float) -> tuple[int, int] | None:
    """0-based ranks (lo, hi) of sorted samples bracketing the median, or None if n is too small.

    Picks the widest j with P(Binomial(n, 1/2) < j) <= alpha/2, so the interval
    [x_j, x_(n-1-j)] covers the true median with probability >= `confidence`.
    """
    alpha_half = (1.0 - confidence) / 2.0
    cumulative = 0.0
    j = -1
    for k in range(n):
        cumulative += math.comb(n, k) / 2.0**n
        if cumulative > alpha_half:
            break
        j = k
    if j < 0:
        return None
    return j, n - 1 - j


@dataclass(frozen=True)
class MedianCI:
    samples: tuple[float, ...]
    confidence: float = 0.95

    @cached_property
    def median(self) -> float:
        return statistics.median(self.samples)

    @cached_property
    def bounds(self) -> tuple[float, float]:
        ranks = median_rank_bounds(len(self.samples), self.confidence)
        if ranks is None:
            return (-math.inf, math.inf)
        ordered = sorted(self.samples)
        return ordered[ranks[0]], ordered[ranks[1]]

    @property
    def low(self) -> float:
        return self.bounds[0]

    @property
    def high(self) -> float:
        return self.bounds[1]

    @property
    def relative_width(self) -> float:
        """Interval width over the median: 0.1 means the median is known to about ±5 %."""
        if not self.samples or self.median == 0 or math.isinf(self.low):
            return math.inf
        return (self.high - self.low) / abs(self.median)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.samples),
            "median": self.median,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class PairedRatios:
    """One timed comparison of a grade, paired per round: the learner's ratio (say
    starter time / learner time), the reference's ratio in the same rounds, and the
    per-round quotient learner/reference — the drift of a busy machine hits both sides
    of one round alike, so that quotient is the steadiest figure of the three."""

    learner: MedianCI
    reference: MedianCI
    relative: MedianCI

    @classmethod
    def of(cls, learner: Sequence[float], reference: Sequence[float]) -> PairedRatios:
        relative = [
            mine / max(theirs, 1e-12) for mine, theirs in zip(learner, reference, strict=True)
        ]
        return cls(MedianCI(tuple(learner)), MedianCI(tuple(reference)), MedianCI(tuple(relative)))

    @property
    def rounds(self) -> int:
        return len(self.learner.samples)

    @property
    def spread(self) -> float:
        """How much the reference's own ratio moved round to round (median |log| distance
        from its median): identical code each round, so this is the machine's noise."""
        samples = [s for s in self.reference.samples if s > 0]
        if len(samples) < 2:
            return 0.0
        centre = math.log(statistics.median(samples))
        return statistics.median(abs(math.log(s) - centre) for s in samples)

    def as_dict(self) -> dict[str, Any]:
        return {
            "learner": self.learner.as_dict(),
            "reference": self.reference.as_dict(),
            "relative": self.relative.as_dict(),
            "spread": self.spread,
        }


def mann_whitney_p(first: Sequence[float], second: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected,
    continuity-corrected): do the two samples come from the same distribution? Used, as
    asv does, so a latency change counts only when it is beyond chance."""
    n1, n2 = len(first), len(second)
    if not n1 or not n2:
        return 1.0
    ranked = sorted([(v, 0) for v in first] + [(v, 1) for v in second])
    ranks = [0.0] * len(ranked)
    ties = 0.0
    index = 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        for k in range(index, end + 1):
            ranks[k] = (index + end) / 2 + 1
        size = end - index + 1
        ties += size**3 - size
        index = end + 1
    rank_sum = sum(r for r, (_, group) in zip(ranks, ranked, strict=True) if group == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - mean) - 0.5) / math.sqrt(variance)
    return min(1.0, 2 * (1 - statistics.NormalDist().cdf(max(z, 0.0))))
