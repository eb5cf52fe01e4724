"""Sample report-worker solutions fail exactly the check they should, with a clear message."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.katas.report_worker import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "report_worker"
KATA_SOLUTION = solution_paths(KATA, LEARNERS)["reference"]


def graded(name: str, **options):
    result = grade(KATA, LEARNERS / name, GradeOptions(seed=21, timing=False, **options))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}
    messages = [d.message for c in result.checks for d in c.diagnostics]
    return failed, messages


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        ("passes_whole_object.py", {"messages"}, "messages carried more than ids"),
        ("retries_deleted.py", {"deleted"}, "AttributeError"),
        ("not_idempotent.py", {"duplicates"}, "check storage.exists(key) before uploading"),
        ("no_max_retries.py", {"retries"}, "default is 20 retries"),
        ("no_callback.py", {"dead-letter"}, "on_retry_exhausted"),
        ("lock_around_upload.py", {"throughput"}, "serialises them"),
        ("swallows_errors.py", {"lost", "dead-letter"}, "never finished and were not dead"),
    ],
)
def test_each_sample_fails_exactly_its_check(name, fails, says):
    failed, messages = graded(name)
    assert failed == fails, messages
    assert any(says in m for m in messages), messages


def test_marking_done_without_uploading_fails_the_gate_and_scores_zero():
    result = grade(KATA, LEARNERS / "done_without_upload.py", GradeOptions(seed=5, timing=False))
    gate = next(c for c in result.checks if c.check.gate)
    assert gate.outcome is Outcome.FAIL and result.score == 0
    assert any("its file was never uploaded" in d.message for d in gate.diagnostics)


@pytest.mark.parametrize("name", ["not_idempotent.py", "reference"])
def test_on_redis_a_killed_worker_loses_nothing(name, real_redis_url, db_url):
    # Given two worker processes on RedisBroker, one SIGKILLed right after an upload
    path = KATA_SOLUTION if name == "reference" else LEARNERS / name
    result = grade(
        KATA, path, GradeOptions(seed=8, timing=False, redis_url=real_redis_url, db_url=db_url)
    )
    counters = result.measurements["learner"].counters[200]
    # Then the victim really died holding a message, and nothing was lost
    assert counters["workers_killed"] == 1 and counters["lost"] == 0
    # And only the non-idempotent job uploaded twice (the lost answer, the killed worker)
    assert (counters["duplicates"] >= 2) == (name != "reference")
