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
