from pathlib import Path
from types import SimpleNamespace

from perfkata.bench.thresholds import Outcome
from perfkata.grader import devcheck
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


def test_an_inconclusive_grade_is_taken_again_and_a_decided_one_kept(monkeypatch):
    # Given grades that come out inconclusive twice (a busy machine), then pass
    verdicts = [Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE, Outcome.PASS]
    graded: list[Path] = []

    def fake_grade(kata, path, options):
        graded.append(path)
        return SimpleNamespace(verdict=verdicts[len(graded) - 1])

    monkeypatch.setattr(devcheck, "grade", fake_grade)
    said: list[str] = []
    paths = {"reference": Path("ref.py")}
    # When the dev check asks for the reference's verdict
    found = devcheck.decided(SimpleNamespace(slug="k"), "reference", paths, None, said.append)
    # Then it graded three times and kept the decided verdict, saying why it re-graded
    assert found.verdict is Outcome.PASS and graded == [Path("ref.py")] * 3
    assert said == ["k: the reference was inconclusive (a busy machine): grading it again"] * 2


def test_inconclusive_every_time_stays_inconclusive(monkeypatch):
    # Given a machine too busy for every attempt
    calls: list[int] = []

    def busy(kata, path, options):
        calls.append(1)
        return SimpleNamespace(verdict=Outcome.INCONCLUSIVE)

    monkeypatch.setattr(devcheck, "grade", busy)
    # When the starter is graded, Then the row sees inconclusive after ATTEMPTS grades
    found = devcheck.decided(
        SimpleNamespace(slug="k"), "starter", {"starter": Path("s.py")}, None, print
    )
    assert found.verdict is Outcome.INCONCLUSIVE and len(calls) == devcheck.ATTEMPTS
