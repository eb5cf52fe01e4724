"""Sample catalog solutions fail exactly the check they should, on diskcache and Redis."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.cached_catalog import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "cached_catalog"


def failed_checks(name: str, redis_url: str | None) -> tuple[set[str], object]:
    options = GradeOptions(seed=9, timing=False, redis_url=redis_url)
    result = grade(KATA, LEARNERS / name, options)
    return {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}, result


@pytest.mark.parametrize(
    ("name", "fails"),
    [
        ("stale_no_invalidation.py", {"fresh"}),
        ("no_lock_get_or_set.py", {"stampede"}),
        ("ttl_ignored.py", {"expiry"}),
        ("unbounded_keys.py", {"entries"}),
        ("clear_on_write.py", {"db-load", "hit-ratio"}),
        ("explicit_deletes.py", set()),
    ],
)
def test_each_sample_fails_exactly_its_check(name, fails, redis_url):
    failed, _ = failed_checks(name, redis_url)
    assert failed == fails


def test_a_stale_read_is_named_with_request_key_and_values(redis_url):
    _, result = failed_checks("stale_no_invalidation.py", redis_url)
    assert result.score == 0
    (message,) = [d.message for c in result.checks for d in c.diagnostics if c.check.id == "fresh"]
    assert "stale read at request" in message and "last write: request" in message
    assert "expected" in message and "got" in message
