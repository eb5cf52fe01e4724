"""Sample catalog solutions, written in different shapes by different hands: every correct
one passes every counted check, every wrong one fails exactly its check, with a
diagnostic that names what the code did — on diskcache, and on Redis for some."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.errors import LearnerCodeError
from perfkata.grader.diagnostics import FINDINGS
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.cached_catalog import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "cached_catalog"

CORRECT = [
    "explicit_deletes.py",  # cache-aside, deletes every listing page of the category
    "versioned_keys.py",  # versions per product, per category and catalog-wide, no deletes
    "handmade_lock.py",  # cache.add() marker as the lock, polling readers
    "page_cache_class.py",  # a class, JSON text in the cache, a generation per category
    "add_mutex.py",  # another hand-made add() mutex (staging)
    "soft_ttl_envelope.py",  # a soft age on top of the hard timeout (staging)
    "envelope_wallclock.py",  # its own time.time() expiry, no cache timeout (staging)
    "memoize_decorator.py",  # a decorator that caches any builder (staging)
]


def graded(name: str, redis_url: str | None = None):
    result = grade(KATA, LEARNERS / name, GradeOptions(seed=9, timing=False, redis_url=redis_url))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}
    said = [d.message for c in result.checks for d in c.diagnostics]
    return failed, said, result


@pytest.mark.parametrize("name", CORRECT)
def test_every_correct_shape_passes_every_counted_check(name):
    failed, _, result = graded(name)
    assert failed == set()
    assert result.score == KATA.max_points - 10  # all but the speed-up, not timed here
    # no finding of any kind (N+1, loop, row-by-row …) on a correct solution
    assert [
        d.message for d in result.measurements["learner"].diagnostics if d.kind in FINDINGS
    ] == []


@pytest.mark.parametrize("name", ["versioned_keys.py", "handmade_lock.py"])
def test_correct_shapes_pass_on_redis_too(name, real_redis_url):
    failed, _, _ = graded(name, real_redis_url)
    assert failed == set()


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        ("stale_no_invalidation.py", {"fresh"}, "served a stale page after update_product("),
        ("review_product_only.py", {"fresh"}, "served a stale page after add_review("),
        ("listing_key_without_page.py", {"fresh"}, "is a key missing one of the page's"),
        ("no_lock_get_or_set.py", {"stampede"}, "build under cache.lock(key)"),
        ("lock_no_recheck.py", {"stampede"}, "each after taking cache.lock()"),
        ("ttl_ignored.py", {"expiry"}, "give every entry a timeout of at most 300 s"),
        ("version_key_expires.py", {"expiry"}, "give version keys no timeout"),
        ("unbounded_keys.py", {"entries"}, "again with no write in between added"),
        ("clear_on_write.py", {"db-load", "hit-ratio"}, "cache.clear() ran 4 times"),
        ("global_generation.py", {"db-load", "hit-ratio"}, "rebuilt a page no write had"),
    ],
)
def test_each_wrong_sample_fails_exactly_its_check_and_says_why(name, fails, says):
    failed, said, _ = graded(name)
    assert failed == fails
    assert any(says in message for message in said), said


def test_a_stale_read_is_said_as_one_for_a_cache(redis_url):
    # Given a cache that never invalidates, on diskcache and on Redis
    _, said, result = graded("stale_no_invalidation.py", redis_url)
    # Then the gate says which read was stale after which write, not "wrong output"
    assert result.score == 0
    first = said[0]
    assert "reads were not fresh; the first: " in first
    assert "wrong output" not in first and "at size" not in first
    assert "expected" in first and "got" in first


def test_work_redone_on_every_read_is_named_under_the_speed_up():
    # Given ORM rows and ratings cached, but the statistics recomputed on every read
    failed, said, _ = graded("caches_ready_rows.py")
    # Then no counted check fails, and the speed-up says what a warm read still does
    assert failed == set()
    assert any(
        "computed rating statistics" in m and "outside build_product_page" in m for m in said
    )


def test_orm_objects_in_the_cache_get_a_kata_sentence_at_the_learners_line():
    with pytest.raises(LearnerCodeError) as raised:
        graded("caches_orm_objects.py")
    message = raised.value.message
    assert message.startswith("cache plain data (dicts, tuples), not ORM objects")
    assert "caches_orm_objects.py:37 (in product_page)" in message
    assert "DetachedInstanceError" in message
