"""Interleaved timing: every timing-based check of a kata goes through this one loop.

A check on metric "speedup" compares the starter's timed sample with the learner's (and
with the reference's); a check on "ratio:A/B" compares two timed workloads of the same
solution (report-worker's jobs on 1 thread against 4). Every round takes each sample the
checks need, in a fresh random order, from the three worker processes; each check gets
one ratio per round for the learner and one for the reference, paired. After each round
every check is judged on its intervals; timing stops as soon as none is undecided
(sequential stopping: a clear case takes the minimum of rounds), otherwise goes on up to
the cap, and what is still undecided then is "inconclusive" — never a coin flip. It also
stops once no check still undecided *can* be decided by the cap, whatever the rounds left
would measure (curtailment, `still_decidable`): a reference clearly below its own floor
on a busy machine ends inconclusive in a third of the cap's rounds, and no verdict the
full run would have reached is lost.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perfkata.bench.stats import MedianCI, PairedRatios, median_rank_bounds
from perfkata.bench.thresholds import Outcome, Threshold, TimedRelative
from perfkata.errors import TamperingDetected
from perfkata.grader.tamper import PREFIX
from perfkata.katas.base import Check, Kata

# The reference's own ratio moves round to round by more than this (median |log|
# distance): said in the grade only when it also left a check undecided, or is extreme.
NOISY_MACHINE = 0.10
EXTREME_NOISE = 0.35
TIMED = "timed"  # the kata's timed workload: what "speedup" compares

Slot = tuple[str, str]  # (variant, sample kind)
Sampler = Callable[[str, str], float]  # (variant, kind) -> seconds of one sample
Call = Callable[[dict[str, Any]], Any]  # one request to a worker -> its reply
Clock = Callable[[], float]

MIN_SAMPLE_SECONDS = 0.04  # a fast solution repeats its call until a sample lasts this long
MAX_REPEATS = 10
TIMED_CALL = {"op": "timed_call"}
TIMED_OUTPUT = {"op": "timed_output"}


@dataclass(frozen=True)
class TimingPlan:
    min_rounds: int = 6  # the fewest rounds that give a 95 % order-statistic interval
    max_rounds: int = 25
    warmup_rounds: int = 0  # each worker warms its timed workload before its 1st sample


@dataclass(frozen=True)
class Comparison:
    """The samples one timed check divides: numerator over denominator, per solution."""

    check: Check

    @property
    def kinds(self) -> tuple[str, str]:
        if self.check.metric == "speedup":
            return TIMED, TIMED
        first, _, second = self.check.metric.removeprefix("ratio:").partition("/")
        return first, second

    def slot(self, variant: str, part: int) -> Slot:
        if self.check.metric == "speedup" and part == 0:
            return "starter", TIMED
        return variant, self.kinds[part]

    def slots(self) -> set[Slot]:
        return {self.slot(v, p) for v in ("learner", "reference") for p in (0, 1)}

    def ratio(self, variant: str, sample: dict[Slot, float]) -> float:
        return sample[self.slot(variant, 0)] / max(sample[self.slot(variant, 1)], 1e-9)


def is_timed(metric: str) -> bool:
    return metric == "speedup" or metric.startswith("ratio:")


def comparisons(kata: Kata) -> list[Comparison]:
    return [Comparison(check) for check in kata.rubric if is_timed(check.metric)]


@dataclass
class TimingResult:
    # seconds of each solution's TIMED sample, per round (bench --compare shows them)
    samples: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, PairedRatios] = field(default_factory=dict)  # check id -> ratios
    rounds: int = 0
    curtailed: bool = False  # stopped before the cap: no round left could decide a check

    @property
    def speedup(self) -> MedianCI | None:
        found = self.ratios.get("speedup")
        return found.learner if found else None

    @property
    def reference_speedup(self) -> MedianCI | None:
        found = self.ratios.get("speedup")
        return found.reference if found else None

    @property
    def noise_level(self) -> float:
        """The largest round-to-round spread of the reference's own ratios."""
        return max((r.spread for r in self.ratios.values()), default=0.0)

    @property
    def noisy(self) -> bool:
        return self.noise_level > NOISY_MACHINE

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "curtailed": self.curtailed,
            "speedup": self.speedup.as_dict() if self.speedup else None,
            "ratios": {k: r.as_dict() for k, r in self.ratios.items()},
            "noise_level": self.noise_level,
            "median_seconds": {k: sorted(v)[len(v) // 2] for k, v in self.samples.items() if v},
        }


def parent_timed(
    call: Call,
    setup: dict[str, Any],
    least: int,
    fill: bool,
    clock: Clock = time.perf_counter,
    check: Callable[[Any], None] | None = None,
) -> float:
    """One sample, timed by this process: the fastest of at least `least` calls, and — when
    `fill` — of as many as make the sample last MIN_SAMPLE_SECONDS. Each call is one
    request, its set-up (fresh data, garbage collected, a broker built) the untimed
    request before it. The call is timed in the worker by a clock bound before the
    learner's module was imported (a module that patches time.perf_counter changes
    nothing), and this process's clock around the request bounds it (`bounded`): the
    round trip alone carries the machine's scheduling delays, which under CPU hogs made a
    3x-slower blog look 2.4x and pass. Fastest-of: on a busy machine a call of a
    few ms is easily made 5x longer by preemption, noise only ever adds, and the fastest
    call is the code's own cost (timeit's reasoning).

    `check`, when given, is handed what every call left behind (its effect, observed by
    the worker off the clock): a repeat's set-up request brings back the call before it
    (its reply is otherwise empty, and a request of its own costs ~5 ms of the worker's
    reply), and the sample's last call is asked for on its own."""
    times: list[float] = []
    observe = {"observe": True} if check is not None else {}
    while len(times) < least or (
        fill and sum(times) < MIN_SAMPLE_SECONDS and len(times) < MAX_REPEATS
    ):
        reply = call({**setup, **observe, "op": "timing_setup", "repeat": len(times)})
        if check is not None and times:
            check(reply["observed"])
        start = clock()
        inside = float(call(TIMED_CALL))
        times.append(bounded(inside, clock() - start))
    if check is not None:
        check(call(TIMED_OUTPUT))
    return min(times)


def bounded(inside: float, round_trip: float) -> float:
    """The worker's own figure for a call (its clock, bound before the learner's import)
    when this process's clock around the request allows it; a call cannot last longer
    than the request that carried it, so a figure above the round trip is forged."""
    if not 0 <= inside <= round_trip:
        raise TamperingDetected(
            f"{PREFIX}the worker said a timed call lasted {inside:.6f} s, but its request "
            f"took {round_trip:.6f} s from perfkata's side"
        )
    return inside


def undecided(threshold: Threshold, ratios: PairedRatios) -> bool:
    return threshold.judge(ratios) is Outcome.INCONCLUSIVE


def reachable_bounds(ci: MedianCI, cap: int) -> tuple[float, float]:
    """The highest lower bound and the lowest upper bound this median's interval can
    reach by `cap` samples, whatever they are. Were every sample still to come huge, the
    lower bound at any size up to the cap would be the current samples' order statistic
    at the cap's rank, and no larger; were they all tiny, the upper bound would be the
    one as far from the top, and no smaller. (±inf: too few samples to bound it yet.)"""
    ranks = median_rank_bounds(cap, ci.confidence)
    ordered = sorted(ci.samples)
    if ranks is None or ranks[0] >= len(ordered):
        return math.inf, -math.inf
    return ordered[ranks[0]], ordered[len(ordered) - 1 - ranks[0]]


def still_decidable(threshold: Threshold, ratios: PairedRatios, cap: int) -> bool:
    """Whether more rounds, up to the cap, could still make this check PASS or FAIL.
    Each bound is taken at its own extreme (learner and reference apart), which
    over-states what is possible: a check is given up only when no rounds could decide it."""
    if not isinstance(threshold, TimedRelative):
        return True
    mine_low, mine_high = reachable_bounds(ratios.learner, cap)
    relative_low, relative_high = reachable_bounds(ratios.relative, cap)
    reference_low, _ = reachable_bounds(ratios.reference, cap)
    can_pass = mine_low >= threshold.floor and relative_low >= threshold.fraction
    can_fall_short = mine_high < threshold.floor or relative_high < threshold.fraction
    return can_pass or (can_fall_short and reference_low >= threshold.floor)


def one_round(slots: list[Slot], sample: Sampler, rng: random.Random) -> dict[Slot, float]:
    """Each slot once. The kinds come in a fresh random order; within a kind, the
    solutions' samples follow each other in a random order (ABBA over rounds), so a
    learner's sample and the reference's it is paired with meet the same load."""
    kinds = sorted({kind for _, kind in slots})
    rng.shuffle(kinds)
    taken: dict[Slot, float] = {}
    for kind in kinds:
        group = [slot for slot in slots if slot[1] == kind]
        rng.shuffle(group)
        for slot in group:
            taken[slot] = sample(*slot)
    return taken


def measure(
    kata: Kata,
    sample: Sampler,
    plan: TimingPlan,
    seed: int,
    on_round: Callable[[int, int], None] = lambda done, cap: None,
) -> TimingResult:
    """Rounds until every timed check is decided (after min_rounds) or the cap."""
    checks = comparisons(kata)
    slots = sorted(set().union(*(c.slots() for c in checks)))
    rng = random.Random(seed)
    for _ in range(plan.warmup_rounds):
        one_round(slots, sample, rng)
    result = TimingResult(samples={v: [] for v in {v for v, k in slots if k == TIMED}})
    per_check: dict[str, tuple[list[float], list[float]]] = {c.check.id: ([], []) for c in checks}
    while result.rounds < plan.max_rounds:
        taken = one_round(slots, sample, rng)
        for (variant, kind), seconds in taken.items():
            if kind == TIMED:
                result.samples[variant].append(seconds)
        for c in checks:
            mine, theirs = per_check[c.check.id]
            mine.append(c.ratio("learner", taken))
            theirs.append(c.ratio("reference", taken))
            result.ratios[c.check.id] = PairedRatios.of(mine, theirs)
        result.rounds += 1
        on_round(result.rounds, plan.max_rounds)
        open_checks = [c for c in checks if undecided(c.check.threshold, result.ratios[c.check.id])]
        if result.rounds >= plan.min_rounds and not any(
            still_decidable(c.check.threshold, result.ratios[c.check.id], plan.max_rounds)
            for c in open_checks
        ):
            result.curtailed = bool(open_checks) and result.rounds < plan.max_rounds
            break
    return result


def reference_missed(check: Check, ratios: PairedRatios | None) -> bool:
    """The reference did not clear the check's floor in this grade: the machine was busy."""
    threshold = check.threshold
    return (
        isinstance(threshold, TimedRelative)
        and ratios is not None
        and threshold.reference_missed(ratios)
    )
