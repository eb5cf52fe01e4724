"""Sample report-worker solutions, written the way different learners would: every
correct one passes every counted check, whatever its shape, and every wrong one fails
exactly the check it should, with a diagnostic that fits the code it has.

Grades run without timing: the speed-up and throughput checks are timed, so they are
never asserted here (they depend on the machine's speed). Each sample is graded once."""

from functools import cache
from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.diagnostics import FINDINGS
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.grader.results import GradeResult
from perfkata.katas.report_worker import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "report_worker"
KATA_SOLUTION = solution_paths(KATA, LEARNERS)["reference"]
TIMED = {"speedup", "throughput"}  # judged by timing, not by these counted runs

CORRECT = [
    "correct_hint_literal.py",  # the brief and hints to the letter
    "correct_generic_actor.py",  # class-based actors (GenericActor, Meta options)
    "correct_kwargs.py",  # the id as a keyword; a Core UPDATE in the callback
    "correct_queue_msgopts.py",  # own queue; on_retry_exhausted as a message option
    "correct_retry_when.py",  # retry_when bounds the retries, no max_retries
    "correct_rowlock_flat_backoff.py",  # SELECT … FOR UPDATE; min_backoff == max_backoff
    "correct_small_actors.py",  # checks the id in the request; a notify actor after
    "correct_throws_status.py",  # throws= for a missing report; status + exists
    "retry_when_bounded.py",  # retry_when alone, a named predicate
    "retry_when_not_found.py",  # a missing report raises; retry_when says no to it
    "kwargs_and_throws.py",  # keyword-only actor, helpers, time_limit
    "on_failure_last_attempt.py",  # on_failure, acting only when no retry follows
    "dead_letter_middleware.py",  # a middleware marks dead-lettered reports failed
    "two_actors.py",  # store, then a second actor marks done
    "correct_trace_args.py",  # (id, trace id) args; Core UPDATEs; explicit rollback
    "wrong_global_lock.py",  # serialised by a lock: only the timed throughput minds
]

WRONG = [
    ("wrong_dict_message.py", {"messages", "deleted"}, "messages carried more than ids"),
    ("wrong_dict_message.py", {"messages", "deleted"}, "its file was uploaded all the same"),
    ("wrong_render_in_request.py", {"messages", "deleted"}, "arguments took"),
    ("wrong_retry_not_found.py", {"deleted"}, "raised LookupError"),
    ("wrong_status_idempotency.py", {"duplicates"}, "check storage.exists(key) before"),
    ("not_idempotent.py", {"duplicates"}, "the retry uploaded again"),
    ("wrong_exists_returns_early.py", {"lost"}, "file was stored, but the report stayed"),
    ("wrong_swallow_errors.py", {"lost", "dead-letter"}, "returned without raising"),
    ("wrong_default_retries.py", {"retries"}, "dramatiq's default applies: 20 retries"),
    ("wrong_default_retries.py", {"retries"}, "keep every backoff within 30 s"),
    ("retry_when_unbounded.py", {"retries", "dead-letter"}, "ignores max_retries=4"),
    ("wrong_no_exhaust_callback.py", {"dead-letter"}, "nothing marks it failed"),
    ("wrong_callback_signature.py", {"dead-letter"}, "with (message_data, retry_info)"),
    ("callback_forgets_commit.py", {"dead-letter"}, "stayed 'pending'"),
    ("on_failure_every_attempt.py", {"dead-letter"}, "on_failure runs after every"),
    ("emails_owner_after_upload.py", {"dead-letter"}, "raised on every attempt"),
    ("emails_owner_after_upload.py", {"dead-letter"}, "AttributeError"),
]


@cache
def graded(name: str) -> GradeResult:
    return grade(KATA, LEARNERS / name, GradeOptions(seed=21, timing=False))


def failed_checks(result: GradeResult) -> set[str]:
    return {c.check.id for c in result.checks if c.outcome is Outcome.FAIL} - TIMED


def messages(result: GradeResult) -> list[str]:
    return [d.message for c in result.checks for d in c.diagnostics]


@pytest.mark.parametrize("name", CORRECT)
def test_each_correct_sample_passes_every_counted_check(name):
    # Given a correct solution of its own shape; When it is graded without timing
    result = graded(name)
    # Then no counted check fails, and no retry ran away
    assert failed_checks(result) == set(), messages(result)
    assert result.measurements["learner"].counters[200]["runaway_retries"] == 0
    # no finding of any kind (N+1, loop, row-by-row …) on a correct solution
    assert [
        d.message for d in result.measurements["learner"].diagnostics if d.kind in FINDINGS
    ] == []


@pytest.mark.parametrize(("name", "fails", "says"), WRONG)
def test_each_wrong_sample_fails_exactly_its_check(name, fails, says):
    result = graded(name)
    assert failed_checks(result) == fails, messages(result)
    assert any(says in m for m in messages(result)), messages(result)


def test_an_unbounded_retry_when_is_stopped_instead_of_hanging_the_grade():
    # Given max_retries=4 beside a retry_when that always says yes (dramatiq obeys retry_when)
    result = graded("retry_when_unbounded.py")
    counters, said = result.measurements["learner"].counters[200], messages(result)
    # Then the run stopped the runaway retries of the 3 doomed uploads, and the queues emptied
    assert counters["runaway_retries"] == 3 and counters["lost"] == 0
    assert not any("had not finished" in m for m in said), said
    # And the advice is about the policy, not a callback it already declares
    assert any("retry_when(25, NetworkError(…)) still returns True" in m for m in said), said
    assert not any("declare on_retry_exhausted" in m for m in said), said


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


@pytest.mark.parametrize(
    ("name", "fails"),
    [
        ("correct_queue_msgopts.py", set()),  # a message option read in another process
        ("dead_letter_middleware.py", set()),  # the learner's middleware in the workers
        ("retry_when_unbounded.py", {"retries", "dead-letter"}),  # stopped there too
    ],
)
def test_on_redis_worker_processes_judge_the_same_shapes_alike(name, fails, real_redis_url):
    result = grade(
        KATA, LEARNERS / name, GradeOptions(seed=8, timing=False, redis_url=real_redis_url)
    )
    assert failed_checks(result) == fails, messages(result)
