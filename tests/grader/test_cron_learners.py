"""Sample cleanup solutions fail exactly the check they should, with a clear message."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.cleanup_cron import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "cleanup_cron"


def graded(name: str, **options):
    result = grade(KATA, LEARNERS / name, GradeOptions(seed=12, timing=False, **options))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}
    messages = [d.message for c in result.checks for d in c.diagnostics]
    return failed, messages


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        ("weekday_off_by_one.py", {"schedule"}, "expected Sun 2027-03-07 02:00"),
        ("boundary_rows.py", {"correct"}, "rows exactly on the boundary"),
        ("touches_audit.py", {"correct"}, "the audit log must never be touched"),
        ("no_commit_per_batch.py", {"crash"}, "nothing had been committed"),
        ("all_ids_in_memory.py", {"memory"}, None),  # the advice line says what to do
        ("no_claim.py", {"once"}, "8 ran twice"),
        ("claim_in_memory.py", {"once"}, "2 ran twice"),  # only the processes race it
        ("utc_digest.py", {"schedule"}, "(10:00 in Europe/Berlin) as run 28"),
    ],
)
def test_each_sample_fails_exactly_its_check(name, fails, says):
    failed, messages = graded(name)
    assert failed == fails
    assert says is None or any(says in m for m in messages)


def test_no_claim_runs_twice_on_every_backend(db_url, redis_url):
    failed, _ = graded("no_claim.py", db_url=db_url, redis_url=redis_url)
    assert failed == {"once"}
