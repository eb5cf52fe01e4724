"""The timing loop and its verdicts, on injected samples: no clock is read, so every
assertion holds on any machine, however busy."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader import timing
from perfkata.grader.grade import timing_notes
from perfkata.grader.results import Measurement
from perfkata.grader.rubric import evaluate_check
from perfkata.grader.timing import TimingPlan, comparisons, measure
from perfkata.katas.base import Check

SPEEDUP = Check.of("speedup", "speed-up vs starter", "speedup", ">=0.4*ref & >=2", 10, "fix")
THREADS = Check.of("throughput", "4 threads vs 1", "ratio:one/four", ">=0.6*ref & >=1.5", 10, "x")
PLAN = TimingPlan(min_rounds=6, max_rounds=20)


@dataclass(frozen=True)
class FakeKata:
    rubric: tuple[Check, ...]


def fixed_seconds(table: dict[tuple[str, str], float]):
    """A sampler that answers from a table and logs each call."""
    calls: list[tuple[str, str]] = []

    def sample(variant: str, kind: str) -> float:
        calls.append((variant, kind))
        return table[variant, kind]

    return sample, calls


def jittered(table: dict[tuple[str, str], float], factors: list[float]):
    """Every call's seconds times the next factor, cycling: a machine that wobbles."""
    cycle = itertools.cycle(factors)

    def sample(variant: str, kind: str) -> float:
        return table[variant, kind] * next(cycle)

    return sample


def learner_measurement() -> Measurement:
    return Measurement("learner", {800: {}}, [])


def test_a_clear_speedup_stops_at_the_fewest_rounds():
    # Given a learner as fast as the reference, both 10x faster than the starter
    table = {("starter", "timed"): 1.0, ("learner", "timed"): 0.1, ("reference", "timed"): 0.1}
    sample, calls = fixed_seconds(table)
    # When timed
    result = measure(FakeKata((SPEEDUP,)), sample, PLAN, seed=1)
    # Then six rounds decide it (sequential stopping), three samples each, and it passes
    assert result.rounds == 6 and len(calls) == 18
    assert SPEEDUP.threshold.judge(result.ratios["speedup"]) is Outcome.PASS


def test_a_case_too_close_to_call_runs_to_the_cap_and_stays_inconclusive():
    # Given a learner at 0.4x the reference's speed-up, on a machine wobbling ±20 %
    table = {("starter", "timed"): 1.0, ("learner", "timed"): 0.25, ("reference", "timed"): 0.1}
    sample = jittered(table, [1.0, 1.2, 0.8, 1.1, 0.9, 1.25, 0.85])
    # When timed
    result = measure(FakeKata((SPEEDUP,)), sample, PLAN, seed=2)
    # Then it never stopped early, and the verdict is neither pass nor fail
    assert result.rounds == PLAN.max_rounds
    assert SPEEDUP.threshold.judge(result.ratios["speedup"]) is Outcome.INCONCLUSIVE


def test_a_slow_learner_fails_when_the_reference_clears_its_floor():
    # Given the starter's speed: a learner that did not fix anything
    table = {("starter", "timed"): 1.0, ("learner", "timed"): 1.0, ("reference", "timed"): 0.1}
    sample, _ = fixed_seconds(table)
    result = measure(FakeKata((SPEEDUP,)), sample, PLAN, seed=3)
    # Then it fails, quickly, and the message is the check's advice, not the machine
    check = evaluate_check(SPEEDUP, learner_measurement(), learner_measurement(), result)
    assert result.rounds == 6 and check.outcome is Outcome.FAIL
    assert not any("too busy" in d.message for d in check.diagnostics)


def test_when_the_reference_misses_its_floor_a_slow_learner_is_inconclusive_not_failed():
    # Given a machine so busy that the reference itself shows only 1.5x (floor: 2x)
    table = {("starter", "timed"): 0.15, ("learner", "timed"): 0.15, ("reference", "timed"): 0.1}
    sample, _ = fixed_seconds(table)
    result = measure(FakeKata((SPEEDUP,)), sample, PLAN, seed=4)
    # When judged
    check = evaluate_check(SPEEDUP, learner_measurement(), learner_measurement(), result)
    # Then the machine is blamed, never the learner, and the reference's figure is shown
    assert check.outcome is Outcome.INCONCLUSIVE and check.points == 0
    busy = check.diagnostics[0].message
    assert "reference solution itself reached only 1.5×" in busy and "grade again" in busy


def test_a_check_no_round_could_decide_stops_long_before_the_cap():
    # Given a machine so busy that the reference shows 1.5x against its 2x floor every
    # round, and a learner no faster than the starter
    table = {("starter", "timed"): 0.15, ("learner", "timed"): 0.15, ("reference", "timed"): 0.1}
    sample, _ = fixed_seconds(table)
    # When timed with a cap of 25 rounds
    result = measure(FakeKata((SPEEDUP,)), sample, TimingPlan(6, 25), seed=4)
    # Then it stops after 8 rounds: the 25-round interval's lower bound is the 8th
    # smallest ratio, so once 8 are below the floor no 17 rounds more could clear it
    assert result.rounds == 8 and result.curtailed
    assert SPEEDUP.threshold.judge(result.ratios["speedup"]) is Outcome.INCONCLUSIVE


def test_a_grade_stopped_undecided_says_no_round_left_could_decide_it():
    # Given a learner whose speed flips between 0.8x and 0.2x the reference's every
    # other call, on a steady machine, the reference well clear of its floor
    flips = itertools.cycle([0.125, 0.5])

    def sample(variant: str, kind: str) -> float:
        return {"starter": 1.0, "reference": 0.1}.get(variant) or next(flips)

    result = measure(FakeKata((SPEEDUP,)), sample, PLAN, seed=9)
    check = evaluate_check(SPEEDUP, learner_measurement(), learner_measurement(), result)
    # Then timing stops once half the rounds sit on each side of the 0.4x line, and the
    # note says why it stopped short of the cap, not that the machine was busy
    assert check.outcome is Outcome.INCONCLUSIVE
    assert result.curtailed and result.rounds < PLAN.max_rounds
    (note,) = timing_notes(SimpleNamespace(checks=[check]), result)  # type: ignore[arg-type]
    assert note == (
        f"The speed-up stayed undecided after {result.rounds} timing rounds (no round left "
        "before the cap could decide it); grade again."
    )


def random_machine(rng: random.Random):
    """A learner and a reference of random true speeds on a machine of random noise: a
    sampler and the stream of its factors fixed by the seed."""
    speeds = {
        ("starter", "timed"): 1.0,
        ("learner", "timed"): rng.choice([0.1, 0.25, 0.4, 0.5, 0.7, 1.0]),
        ("reference", "timed"): rng.choice([0.1, 0.3, 0.45, 0.6]),
    }
    noise = rng.choice([0.05, 0.3, 0.8])
    factors = [math.exp(rng.gauss(0, noise)) for _ in range(200)]
    return speeds, factors


@pytest.mark.parametrize("seed", range(150))
def test_stopping_when_nothing_can_be_decided_never_changes_a_verdict(seed, monkeypatch):
    # Given one random machine, timed twice on the same stream of samples
    speeds, factors = random_machine(random.Random(seed))
    curtailed = measure(FakeKata((SPEEDUP,)), jittered(speeds, factors), PLAN, seed=seed)
    # When the second run may not give up on an undecided check before the cap
    monkeypatch.setattr(timing, "still_decidable", lambda *args: True)
    full = measure(FakeKata((SPEEDUP,)), jittered(speeds, factors), PLAN, seed=seed)
    # Then both reach the same verdict, and the first never took more rounds
    judge = SPEEDUP.threshold.judge
    assert judge(curtailed.ratios["speedup"]) is judge(full.ratios["speedup"])
    assert curtailed.rounds <= full.rounds and not full.curtailed


def test_a_ratio_check_times_two_workloads_of_each_solution_in_the_same_rounds():
    # Given a throughput check (one thread vs four) beside the speed-up
    table = {
        ("starter", "timed"): 1.0,
        ("learner", "timed"): 0.1,
        ("reference", "timed"): 0.1,
        ("learner", "one"): 0.8,  # serialised: four threads do not help
        ("learner", "four"): 0.8,
        ("reference", "one"): 0.8,
        ("reference", "four"): 0.25,
    }
    sample, calls = fixed_seconds(table)
    kata = FakeKata((SPEEDUP, THREADS))
    result = measure(kata, sample, PLAN, seed=5)
    # Then every round took all seven samples, the starter never ran the thread workloads
    assert len(calls) == 7 * result.rounds
    assert ("starter", "one") not in calls
    # And the serialised learner fails throughput while passing the speed-up
    assert THREADS.threshold.judge(result.ratios["throughput"]) is Outcome.FAIL
    assert SPEEDUP.threshold.judge(result.ratios["speedup"]) is Outcome.PASS
    assert [c.check.id for c in comparisons(kata)] == ["speedup", "throughput"]


def test_a_solution_and_its_reference_are_sampled_back_to_back_in_either_order():
    # Given one workload timed for both solutions
    table = {("starter", "timed"): 1.0, ("learner", "timed"): 0.1, ("reference", "timed"): 0.1}
    sample, calls = fixed_seconds(table)
    measure(FakeKata((SPEEDUP,)), sample, TimingPlan(min_rounds=12, max_rounds=12), seed=6)
    rounds = [calls[i : i + 3] for i in range(0, len(calls), 3)]
    # Then each round has each solution once, and the orders vary from round to round
    assert all(sorted(v for v, _ in r) == ["learner", "reference", "starter"] for r in rounds)
    assert len({tuple(v for v, _ in r) for r in rounds}) > 2


def test_the_reference_speedup_is_shown_beside_the_learners():
    table = {("starter", "timed"): 1.0, ("learner", "timed"): 0.2, ("reference", "timed"): 0.1}
    sample, _ = fixed_seconds(table)
    result = measure(FakeKata((SPEEDUP,)), sample, PLAN, seed=7)
    check = evaluate_check(SPEEDUP, learner_measurement(), learner_measurement(), result)
    assert (check.yours, check.reference) == ("5.0× [5.0–5.0]", "10.0× [10.0–10.0]")
    assert check.threshold == ">=0.4×ref (= 4.0×) & >=2×"


def test_no_timing_leaves_the_check_not_run():
    check = evaluate_check(SPEEDUP, learner_measurement(), learner_measurement(), None)
    assert check.outcome is Outcome.NOT_RUN


def notes_after(table: dict[tuple[str, str], float], factors: list[float]) -> list[str]:
    result = measure(FakeKata((SPEEDUP,)), jittered(table, factors), PLAN, seed=8)
    check = evaluate_check(SPEEDUP, learner_measurement(), learner_measurement(), result)
    return timing_notes(SimpleNamespace(checks=[check]), result)  # type: ignore[arg-type]


def test_a_noisy_machine_is_not_mentioned_when_the_verdict_was_clear_anyway():
    # Given ±20 % noise, and a learner as fast as the reference (10x over the starter)
    table = {("starter", "timed"): 1.0, ("learner", "timed"): 0.1, ("reference", "timed"): 0.1}
    # Then no note: the noise did not change the verdict
    assert notes_after(table, [1.0, 1.2, 0.8, 1.1, 0.9, 1.25, 0.85]) == []


def test_a_reference_below_its_floor_is_named_in_the_notes():
    table = {("starter", "timed"): 0.15, ("learner", "timed"): 0.15, ("reference", "timed"): 0.1}
    (note,) = notes_after(table, [1.0])
    assert note.startswith("The machine was too busy to judge the speed-up")
    assert "'speed-up vs starter'" in note
