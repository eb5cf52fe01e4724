"""Sample cleanup solutions, written in different shapes by different hands: every correct
one passes every counted check (any batch size the brief allows, any way of choosing the
ids, any atomic claim, any spelling of the schedule), every wrong one fails exactly its
check with a diagnostic that describes what its code did."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.diagnostics import FINDINGS
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.cleanup_cron import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "cleanup_cron"

CORRECT = [
    "select_ids_batch_500.py",  # the brief's loop with 500 ids (failed "statements flat")
    "batch100_orm2.py",  # the same with 100 ids (staging)
    "batch500_text.py",  # text() SQL, expanding IN (staging)
    "delete_returning.py",  # DELETE … IN (SELECT … LIMIT 250) RETURNING, savepoint claim
    "keyset_purger.py",  # a class, keyset pages of 200, ON CONFLICT DO NOTHING claim
    "raw_sql_chunks.py",  # a generator of 100-id chunks, SETNX + EXPIRE, CRON_TZ= digest
    "orm_batches_expunged.py",  # ORM objects, 500 at a time, expunged per batch
    "id_windows_zoned.py",  # primary-key windows, every schedule zoned (staging)
    "returning_utc.py",  # RETURNING, ("cron", "UTC") entries (staging)
    "subquery_loop.py",  # DELETE … IN (SELECT … LIMIT 1000) until rowcount 0 (staging)
]


def graded(name: str, **options):
    result = grade(KATA, LEARNERS / name, GradeOptions(seed=12, timing=False, **options))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}
    messages = [d.message for c in result.checks for d in c.diagnostics]
    return failed, messages, result


@pytest.mark.parametrize("name", CORRECT)
def test_every_correct_shape_passes_every_counted_check(name):
    failed, _, result = graded(name)
    assert failed == set()
    assert result.score == KATA.max_points - 15  # all but the speed-up, not timed here
    # no finding of any kind (N+1, loop, row-by-row …) on a correct solution
    assert [
        d.message for d in result.measurements["learner"].diagnostics if d.kind in FINDINGS
    ] == []


@pytest.mark.parametrize("name", ["select_ids_batch_500.py", "delete_returning.py"])
def test_correct_shapes_pass_on_postgresql_and_redis(name, real_postgres_url, real_redis_url):
    failed, _, _ = graded(name, db_url=real_postgres_url, redis_url=real_redis_url)
    assert failed == set()


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        ("weekday_off_by_one.py", {"schedule"}, "expected Sun 2027-03-07 02:00"),
        (
            "boundary_rows.py",
            {"correct"},
            "(deleted_at == now - 30 days) were deleted; the rule keeps them",
        ),
        (
            "strict_session_boundary.py",
            {"correct"},
            "(expires_at == now) were kept; the rule deletes them (expires_at <= now)",
        ),
        ("touches_audit.py", {"correct"}, "the audit log must never be touched"),
        ("no_commit_per_batch.py", {"crash"}, "nothing had been committed"),
        ("all_ids_in_memory.py", {"memory"}, None),  # the advice line says what to do
        ("one_big_delete.py", {"batch-size", "crash"}, "one DELETE was removing all"),
        ("per_row_deletes.py", {"statements"}, "one row per statement"),
        ("executemany_deletes.py", {"statements"}, "executemany() runs its DELETE once per row"),
        ("no_claim.py", {"once"}, "8 ran twice"),
        ("claim_in_memory.py", {"once"}, "held between threads of one process but not"),
        ("claim_no_rollback.py", {"once"}, "call session.rollback() before returning False"),
        ("utc_digest.py", {"schedule"}, "(10:00 in Europe/Berlin) as run 28"),
        ("wallclock_now.py", {"correct", "crash"}, "deleted no expired session at all"),
    ],
)
def test_each_wrong_sample_fails_exactly_its_check_and_says_why(name, fails, says):
    failed, messages, _ = graded(name)
    assert failed == fails
    assert says is None or any(says in m for m in messages), messages


def test_a_get_then_set_claim_on_redis_is_told_to_use_set_nx(real_redis_url):
    failed, messages, _ = graded("redis_get_then_set.py", redis_url=real_redis_url)
    assert failed == {"once"}
    assert any("one SET key value NX EX ttl, not a GET then a SET" in m for m in messages)


def test_no_claim_runs_twice_on_every_backend(db_url, redis_url):
    failed, _, _ = graded("no_claim.py", db_url=db_url, redis_url=redis_url)
    assert failed == {"once"}
