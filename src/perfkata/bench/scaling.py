"""How a deterministic counter grows with dataset size: a least-squares line."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GrowthFit:
    sizes: tuple[int, ...]
    counts: tuple[float, ...]

    @property
    def slope(self) -> float:
        if len(set(self.sizes)) < 2:
            return 0.0
        return statistics.linear_regression(self.sizes, self.counts).slope

    @property
    def intercept(self) -> float:
        if len(set(self.sizes)) < 2:
            return self.counts[0] if self.counts else 0.0
        return statistics.linear_regression(self.sizes, self.counts).intercept

    def describe(self, variable: str = "N") -> str:
        """`≈ 3.1·N + 2` for a growing count, `4 → 5` for a (nearly) flat or a falling one
        (a count that falls as the data grows is read off its ends: `≈ -0.28·N + 1067`
        says nothing a learner can use)."""
        if self.slope < 0.05:
            low, high = self.counts[0], self.counts[-1]
            return f"{low:g}" if low == high else f"{low:g} → {high:g}"
        intercept = round(self.intercept)
        sign = "+" if intercept >= 0 else "−"
        return f"≈ {self.slope:.2g}·{variable} {sign} {abs(intercept)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "counts": list(self.counts),
            "slope": self.slope,
            "intercept": self.intercept,
        }


def fit(sizes: Sequence[int], counts: Sequence[float]) -> GrowthFit:
    return GrowthFit(tuple(sizes), tuple(float(c) for c in counts))


def capped_fit(sizes: Sequence[int], counts: Sequence[float]) -> GrowthFit:
    """The growth of a count that cannot exceed its size (image-pipeline's bulk images
    begun before the albums were done: at most the whole backlog). At the smaller sizes
    it may reach the size only because the backlog ran out: fitted with those, a flat
    count draws a slope from the cap alone, which a faster CPU steepens. So the sizes
    below the first one where the count stayed under its size are left out — all of
    them when two sizes above remain, all but the nearest otherwise (a lower bound, so
    the slope can only come out steeper). A count at its cap everywhere, or reaching it
    again past a size where it stayed under, is fitted whole: it grows with the size."""
    under = [count < size for size, count in zip(sizes, counts, strict=True)]
    first = under.index(True) if True in under else len(sizes)
    if first == len(sizes) or not all(under[first:]):
        return fit(sizes, counts)
    start = first if len(sizes) - first >= 2 else max(first - 1, 0)
    return fit(sizes[start:], counts[start:])
