from types import SimpleNamespace

from perfkata.grader.devcheck import deterministic_metrics, first_difference
from perfkata.grader.results import Measurement


def result(statements: int, peak: int) -> SimpleNamespace:
    counters = {800: {"statements": statements, "peak_bytes": peak}}
    return SimpleNamespace(measurements={"learner": Measurement("learner", counters, [])})


def test_memory_peaks_may_wobble_but_counts_may_not():
    same = deterministic_metrics(result(3, 5_000_000)), deterministic_metrics(result(3, 5_004_096))
    assert same[0] == same[1]
    differ = deterministic_metrics(result(3, 1)), deterministic_metrics(result(4, 1))
    assert differ[0] != differ[1]
    assert first_difference(*differ).startswith("learner differs")
