"""Sample report-worker solutions, written the way different learners would: every
correct one passes every counted check, whatever its shape, and every wrong one fails
exactly the check it should, with a diagnostic that fits the code it has.

Grades run without timing; the throughput check moves to timing, so it is never asserted
here (it depends on the machine's speed)."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.katas.report_worker import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "report_worker"
KATA_SOLUTION = solution_paths(KATA, LEARNERS)["reference"]
TIMED = {"speedup", "throughput"}  # judged by timing, not by these counted runs


def graded(name: str, seed: int = 21, **options):
    result = grade(KATA, LEARNERS / name, GradeOptions(seed=seed, timing=False, **options))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL} - TIMED
    messages = [d.message for c in result.checks for d in c.diagnostics]
    return failed, messages, result


@pytest.mark.parametrize(
    "name",
    [
        "retry_when_bounded.py",  # retry_when bounds retries, no max_retries
        "retry_when_not_found.py",  # a missing report: retry_when says no
        "kwargs_and_throws.py",  # id as a keyword; throws= for a missing report
        "on_failure_last_attempt.py",  # on_failure, acting only when no retry follows
        "dead_letter_middleware.py",  # a middleware marks dead-lettered reports failed
        "two_actors.py",  # store, then hand over to a second actor that marks done
        "lock_around_upload.py",  # safe but serialised: only throughput (timed) minds
    ],
)
def test_each_correct_sample_passes_every_counted_check(name):
    # Given a correct solution of its own shape; When it is graded without timing
    failed, messages, result = graded(name)
    # Then no counted check fails, and no retry ran away or hung the run
    assert failed == set(), messages
    counters = result.measurements["learner"].counters[200]
    assert counters["runaway_retries"] == 0


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        ("passes_whole_object.py", {"messages"}, "messages carried more than ids"),
        ("retries_deleted.py", {"deleted"}, "AttributeError"),
        ("not_idempotent.py", {"duplicates"}, "check storage.exists(key) before uploading"),
        ("no_max_retries.py", {"retries"}, "20 retries"),
        ("no_callback.py", {"dead-letter"}, "nothing marks it failed"),
        ("swallows_errors.py", {"lost", "dead-letter"}, "returned without raising"),
        ("retry_when_unbounded.py", {"retries", "dead-letter"}, "ignores max_retries"),
        ("on_failure_every_attempt.py", {"dead-letter"}, "on_failure runs after every"),
        ("callback_forgets_commit.py", {"dead-letter"}, "stayed 'pending'"),
    ],
)
def test_each_wrong_sample_fails_exactly_its_check(name, fails, says):
    failed, messages, _ = graded(name)
    assert failed == fails, messages
    assert any(says in m for m in messages), messages


def test_an_unbounded_retry_when_is_stopped_instead_of_hanging_the_grade():
    # Given max_retries=4 beside a retry_when that always says yes (dramatiq obeys retry_when)
    _, messages, result = graded("retry_when_unbounded.py")
    counters = result.measurements["learner"].counters[200]
    # Then the run stopped the runaway retries of the 3 doomed uploads, and the queues emptied
    assert counters["runaway_retries"] == 3
    assert not any("had not finished" in m for m in messages), messages
    # And the advice is about the policy, not a callback it already declares
    assert any("retry_when(" in m and "True" in m for m in messages), messages
    assert not any("declare on_retry_exhausted" in m for m in messages), messages


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
