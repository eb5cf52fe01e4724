"""Thresholds as objects parsed from short strings, each judging one measured value.

">=3"        a plain comparison; on a confidence interval it is three-way:
             pass only if the whole interval passes, fail only if all of it fails
"<=ref+1"    relative to the reference solution's value (also "<=1.5*ref")
"O(1)"       a growth fit whose slope stays under MAX_FLAT_SLOPE per item
">=0.5*ref & >=2"
             a timed comparison (PairedRatios): the learner's ratio at least half the
             reference's in the same rounds, and above an absolute floor set far below
             what any machine shows; a FAIL needs the reference itself clear of that
             floor in the same grade — if it is not, the machine was judged, not the
             learner, and the verdict is INCONCLUSIVE
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from perfkata.bench.scaling import GrowthFit
from perfkata.bench.stats import MedianCI, PairedRatios

# One extra statement per 20 items still reads as "batched": selectinload adds one per
# 500 keys per relationship, hand-batched IN lists of 100 add 0.01 per item per query,
# and any N+1 adds at least 1 per item.
MAX_FLAT_SLOPE = 0.05


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    NOT_RUN = "not run"


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_COMPARE = re.compile(r"^\s*(>=|<=|==|>|<)\s*([0-9.]+)\s*$")
_SLOPE = re.compile(r"^\s*slope\s*<=\s*([0-9.]+)\s*$")
_TIMED = re.compile(r"^\s*>=\s*([0-9.]+)\s*\*\s*ref\s*&\s*>=\s*([0-9.]+)\s*$")
_RELATIVE = re.compile(r"^\s*(>=|<=|==|>|<)\s*(?:([0-9.]+)\s*\*\s*)?ref\s*(?:\+\s*([0-9.]+))?\s*$")


class Threshold:
    text: str

    def judge(self, value: Any, reference: Any = None) -> Outcome:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Compare(Threshold):
    text: str
    op: str
    limit: float

    def judge(self, value: Any, reference: Any = None) -> Outcome:
        check = _OPS[self.op]
        if isinstance(value, MedianCI):
            low_ok, high_ok = check(value.low, self.limit), check(value.high, self.limit)
            if low_ok and high_ok:
                return Outcome.PASS
            if not low_ok and not high_ok:
                return Outcome.FAIL
            return Outcome.INCONCLUSIVE
        return Outcome.PASS if check(float(value), self.limit) else Outcome.FAIL


@dataclass(frozen=True)
class RelativeToReference(Threshold):
    text: str
    op: str
    factor: float
    offset: float

    def limit(self, reference: float) -> float:
        return reference * self.factor + self.offset

    def judge(self, value: Any, reference: Any = None) -> Outcome:
        if reference is None:
            return Outcome.ERROR
        ok = _OPS[self.op](float(value), self.limit(float(reference)))
        return Outcome.PASS if ok else Outcome.FAIL


@dataclass(frozen=True)
class TimedRelative(Threshold):
    text: str
    fraction: float  # of the reference's ratio, paired per round
    floor: float  # absolute: the reference must clear it for any FAIL to stand

    def judge(self, value: Any, reference: Any = None) -> Outcome:
        if not isinstance(value, PairedRatios):
            return Outcome.ERROR
        mine, relative = value.learner, value.relative
        if mine.low >= self.floor and relative.low >= self.fraction:
            return Outcome.PASS
        clearly_short = mine.high < self.floor or relative.high < self.fraction
        if clearly_short and not self.reference_missed(value):
            return Outcome.FAIL
        return Outcome.INCONCLUSIVE

    def reference_missed(self, value: PairedRatios) -> bool:
        """The reference's own interval is not clear of the floor in this grade."""
        return value.reference.low < self.floor

    def limit(self, reference: float) -> float:
        return max(reference * self.fraction, self.floor)


@dataclass(frozen=True)
class Flat(Threshold):
    text: str
    max_slope: float = MAX_FLAT_SLOPE

    def judge(self, value: Any, reference: Any = None) -> Outcome:
        if not isinstance(value, GrowthFit):
            return Outcome.ERROR
        return Outcome.PASS if value.slope <= self.max_slope else Outcome.FAIL


def parse(text: str) -> Threshold:
    """Parse a threshold string; an unknown form is an author's error, said plainly."""
    if text.strip().upper() == "O(1)":
        return Flat(text.strip())
    if match := _SLOPE.match(text):
        return Flat(text.strip(), float(match[1]))
    if match := _COMPARE.match(text):
        return Compare(text.strip(), match[1], float(match[2]))
    if match := _TIMED.match(text):
        return TimedRelative(text.strip(), float(match[1]), float(match[2]))
    if match := _RELATIVE.match(text):
        factor = float(match[2]) if match[2] else 1.0
        offset = float(match[3]) if match[3] else 0.0
        return RelativeToReference(text.strip(), match[1], factor, offset)
    raise ValueError(
        f"unknown threshold {text!r}: use a comparison like '>=3', "
        "one relative to the reference like '<=ref+1' or '<=1.5*ref', 'O(1)', 'slope<=50' "
        "or, for a timed ratio, '>=0.5*ref & >=2'"
    )
