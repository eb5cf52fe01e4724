"""Sample image-pipeline solutions, written the way different learners would: every
correct one passes every counted check, whatever its shape (dramatiq's group callback
or a counter in the database, a chain per image or per size, actors or GenericActor
classes, a dead letter as an actor or a middleware), and every wrong one fails exactly
the check it should, with a diagnostic that fits the code it has.

Grades run without timing (the request speed-up is timed, never asserted here); each
sample is graded once, on one seed. wrong_per_size_no_exists_redis.py is right on one
machine and wrong only when a worker dies mid-chain: tests/katas/test_image_pipeline.py
runs it on RedisBroker."""

from functools import cache
from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade
from perfkata.grader.results import GradeResult
from perfkata.katas.image_pipeline import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "image_pipeline"
TIMED = {"speedup"}

CORRECT = [
    "correct_hint_literal.py",  # the brief and hints to the letter
    "correct_db_counter.py",  # no group: a conditional UPDATE claims the album's email
    "correct_per_size_chain.py",  # five stages, one store per size; bulk in one message
    "correct_generic_actors.py",  # GenericActor classes; the group built in a job; middleware
    "correct_two_queues_no_priority.py",  # two queues and no priority at all
]

WRONG = [
    ("wrong_email_per_image.py", {"emails", "idempotent-callback"}, "got 6 emails for its 6"),
    ("wrong_email_before_last.py", {"emails"}, "email went out before its image"),
    ("wrong_one_queue.py", {"backlog"}, "2,000 of them were begun before"),
    ("wrong_no_rate_limit.py", {"rate-limit"}, "the CDN allows 2"),
    ("wrong_default_retries.py", {"retries"}, "dramatiq's default applies: 20 retries"),
    ("wrong_default_retries.py", {"retries"}, "keep every backoff within 30 s"),
    ("wrong_row_dicts.py", {"messages"}, "messages carried more than ids"),
    ("wrong_callback_not_idempotent.py", {"idempotent-callback"}, "delivered a second time"),
    ("wrong_no_dead_letter.py", {"emails"}, "only fires once every child succeeded"),
    ("wrong_store_not_idempotent.py", {"correct"}, "ask storage.exists(key)"),
    ("wrong_limiter_eats_retries.py", {"correct", "emails"}, "raised RateLimitExceeded"),
    # the playtest's retry_when that counted dramatiq's retries: passed 2 grades in 6
    # before the plan made the CDN busy for one flaky photo on every run
    ("wrong_retry_when_counts_refusals.py", {"correct", "emails"}, "refusals used up the retry"),
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
    assert result.measurements["learner"].counters[2000]["runaway_retries"] == 0


@pytest.mark.parametrize(("name", "fails", "says"), WRONG)
def test_each_wrong_sample_fails_exactly_its_check(name, fails, says):
    result = graded(name)
    assert failed_checks(result) == fails, messages(result)
    assert any(says in m for m in messages(result)), messages(result)


def test_a_wrong_gate_scores_zero():
    result = graded("wrong_store_not_idempotent.py")
    gate = next(c for c in result.checks if c.check.gate)
    assert gate.outcome is Outcome.FAIL and result.score == 0
    assert any("was stored 2 times" in d.message for d in gate.diagnostics)
