"""Saved bench runs round-trip through JSON; the regression rule needs a factor and
statistical significance for latency, exact equality for counters."""

import json
import random
import statistics

from perfkata.bench.runs import KataRun, RunStore, SavedRun, environment
from perfkata.bench.stats import mann_whitney_p
from perfkata.grader.compare import regressions
from perfkata.katas.n_plus_one_blog import KATA


def test_mann_whitney_matches_the_textbook_values():
    # scipy.stats.mannwhitneyu([1..5], [6..10], method="asymptotic") gives p = 0.01219
    assert abs(mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) - 0.01219) < 1e-4
    assert mann_whitney_p([1, 2, 3], [1, 2, 3]) == 1.0
    assert mann_whitney_p([], [1.0]) == 1.0


def run(ratios, statements=3.0):
    return KataRun({"800": {"statements": statements, "peak_bytes": 5e6}}, ratios, ratios)


def noisy(center, n=11, seed=1):
    rng = random.Random(seed)
    return [center * rng.uniform(0.8, 1.25) for _ in range(n)]


def test_same_code_on_a_noisy_machine_is_no_regression():
    for seed in range(20):
        assert not any(
            f.regression
            for f in regressions(KATA, run(noisy(1, seed=seed)), run(noisy(1, seed=seed + 100)))
        )


def test_three_times_slower_is_a_regression_and_faster_is_not():
    found = regressions(KATA, run(noisy(1)), run(noisy(3, seed=2)))
    assert [f.regression for f in found] == [True] and "3." in found[0].message
    faster = regressions(KATA, run(noisy(3)), run(noisy(1, seed=2)))
    assert faster and not any(f.regression for f in faster)


def test_a_small_but_significant_change_is_not_a_regression():
    assert not any(f.regression for f in regressions(KATA, run([1.0] * 11), run([1.2] * 11)))


def test_a_large_change_beyond_chance_is_needed_not_a_large_one_alone():
    # Given six rounds each: the new medians are 2x the old, but the samples overlap so
    # much that the change could be chance (Mann-Whitney p well above 0.05)
    old, new = [1.0, 1.0, 2.0, 2.0, 9.0, 9.0], [1.0, 1.0, 4.0, 4.0, 9.0, 9.0]
    assert statistics.median(new) == 2 * statistics.median(old)
    assert mann_whitney_p(old, new) > 0.5
    # Then it is no regression, and no "faster" either
    assert not any("latency" in f.message for f in regressions(KATA, run(old), run(new)))
    # While the same factor, beyond chance, is one (the p-value in the message)
    found = regressions(KATA, run([1.0] * 6), run([2.0] * 6))
    assert [f.regression for f in found] == [True] and "p = 0.00" in found[0].message


def test_counters_compare_exactly_in_the_rubrics_direction():
    more = regressions(KATA, run([1.0] * 6, statements=3), run([1.0] * 6, statements=9))
    assert [(f.regression, f.message) for f in more] == [(True, "statements at 800: 3 → 9")]
    fewer = regressions(KATA, run([1.0] * 6, statements=9), run([1.0] * 6, statements=3))
    assert [f.regression for f in fewer] == [False]


def test_saved_runs_round_trip_and_latest_is_the_newest(tmp_path):
    store = RunStore(tmp_path / "runs")
    first = SavedRun("base", "2026-11-28T01:00:00Z", environment(tmp_path), {"k": run([1.0])})
    second = SavedRun("next", "2026-11-28T02:00:00Z", {"cpu": "x"}, {"k": run([2.0])})
    store.save(second)
    store.save(first)
    (tmp_path / "runs" / "junk.json").write_text("{not json")
    assert [r.name for r in store.all()] == ["base", "next"]
    assert store.load("latest").name == "next" and store.load("missing") is None
    loaded = store.load("base")
    assert loaded.to_json() == json.loads(json.dumps(first.to_json()))
    assert loaded.environment["cores"] and loaded.environment["python"]
