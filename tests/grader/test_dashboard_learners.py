"""Sample analytics-dashboard solutions, written in different shapes by different hands:
every correct one passes every counted check (Core or ORM selects, window functions or
correlated subqueries or a rank in Python over 48 rows, any index that searches orders by
status and a created_at range, any keyset spelling the index can seek to and any cursor),
every wrong one fails exactly its checks with a diagnostic naming its line. The learner's
report's samples are judged in-process in tests/katas/test_analytics_dashboard.py."""

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.analytics_dashboard import KATA

# grades every sample learner: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

LEARNERS = Path(__file__).parents[1] / "learners" / "analytics_dashboard"

CORRECT = [
    "core_window.py",  # Core tables, row_number(), tuple_ keyset, (status, created_at)
    "orm_subqueries.py",  # correlated subqueries rank the top 3, bounded OR keyset
    "text_sql.py",  # text() SQL with a window function, row values, a "time|id" cursor
    "cte_python_rank.py",  # CTEs, 48 product rows ranked in Python, a covering index
    "orm_entities_narrow.py",  # Order objects for 20-row pages, DESC indexes, & | keyset
]


def graded(name: str, **options):
    result = grade(KATA, LEARNERS / name, GradeOptions(seed=7, timing=False, **options))
    failed = {c.check.id for c in result.checks if c.outcome is Outcome.FAIL}
    messages = [d.message for c in result.checks for d in c.diagnostics]
    return failed, messages, result


@pytest.mark.parametrize("name", CORRECT)
def test_every_correct_shape_passes_every_counted_check(name):
    failed, _, result = graded(name)
    assert failed == set()
    assert result.score == KATA.max_points - 10  # all but the speed-up, not timed here


def test_a_correct_shape_passes_on_postgresql_by_its_own_plans(real_postgres_url):
    failed, _, result = graded("core_window.py", db_url=real_postgres_url)
    assert failed == set()
    assert result.measurements["learner"].at_largest()["filter_scans"] == 0


@pytest.mark.parametrize(
    ("name", "fails", "says"),
    [
        (
            "offset_kept.py",
            {"feed-depth", "feed-rows"},
            "page 20 reads 401 rows to show 20 at offset_kept.py:91 — paginate by key",
        ),
        (
            "python_sums.py",
            {"rows-fetched", "orm-objects", "memory"},
            "objects to sum them at python_sums.py:18 — aggregate in SQL",
        ),
        (
            "wrong_index.py",
            {"filter-index"},
            "(plan: SEARCH orders USING INDEX ix_orders_created_at_id (created_at>?) at "
            "wrong_index.py:79) — lead the index with the column compared with =",
        ),
        (
            "no_feed_index.py",
            {"feed-index"},
            "20 feed pages read the whole orders table to show 20 rows (plan: SCAN orders at "
            "no_feed_index.py:87)",
        ),
        (
            "slices_in_python.py",
            {"feed-rows", "memory"},
            "page 1 fetches 6,000 rows to show 20 at slices_in_python.py:84",
        ),
        (
            # sent on a raw sqlite3 connection of its own: the driver's trace still has it
            "raw_driver_refunds.py",
            {"filter-index"},
            "(plan: SEARCH orders USING INDEX ix_orders_created_at_id (created_at>?) at "
            "raw_driver_refunds.py:80)",
        ),
        (
            # a bare OR seek: bound by the driver, SQLite walks the index to the cursor
            "wrong_keyset_bare_or_predicate.py",
            {"feed-depth", "feed-rows"},
            "page 20 reads 401 rows to show 20 at wrong_keyset_bare_or_predicate.py:122 — its "
            "plan walks orders from the newest one",
        ),
        ("ties_by_id.py", {"correct"}, "wrong output: at size 390, top_products: item"),
        (
            # its seek (id < :last) is no range on the feed's index: it walks from the newest
            "keyset_by_id.py",
            {"correct", "feed-depth", "feed-rows"},
            "wrong output: at size 390, feed page 2: item 0",
        ),
        ("unstable_ties.py", {"correct"}, "wrong output: at size 390, feed page"),
    ],
)
def test_each_wrong_solution_fails_its_checks_and_is_told_where(name, fails, says):
    failed, messages, result = graded(name)
    assert failed == fails
    assert any(says in m for m in messages), messages
    assert result.score == (0 if "correct" in fails else result.score)
