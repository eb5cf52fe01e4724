"""The kata's own pieces: the oracle's traps, and exact counts for the starter and the
reference — statements, rows the parent's replay counts, plan findings, feed depth — on
SQLite and PostgreSQL."""

import itertools
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from perfkata.bench.probes.statement_log import literal_sql
from perfkata.errors import InternalError
from perfkata.grader.database import drop_schema, new_schema_name
from perfkata.grader.grade import solution_paths
from perfkata.grader.parent_audit import sqlite_opener
from perfkata.grader.worker import WorkerState, measure_size, op_load
from perfkata.katas.analytics_dashboard import KATA, data
from perfkata.katas.analytics_dashboard.audit import (
    audit,
    orders_names,
    parametrised,
    pg_full_scan,
    pg_unnarrowed,
    pg_visited,
    sqlite_full_scan,
    sqlite_unnarrowed,
)
from perfkata.katas.analytics_dashboard.models import Base, Order
from perfkata.katas.analytics_dashboard.workload import verify_dashboard

SEED = 5
SMALL = KATA.sizes[0]  # built without the learner's indexes (data.UNINDEXED_SIZE)
INDEXED = KATA.sizes[1]  # the smallest size with them: 400 orders, the last page full
LEARNERS = Path(__file__).parents[1] / "learners" / "analytics_dashboard"


@pytest.fixture
def load(db_url, tmp_path):
    """A worker state in this process; the indexes a solution declares on the shared
    Order table are taken off again afterwards, as a fresh worker would have them."""
    schemas: list[str] = []
    indexes = set(Order.__table__.indexes)

    def loaded(variant: str) -> WorkerState:
        state = WorkerState(scratch=tmp_path)
        paths = solution_paths(KATA, tmp_path)
        path = paths[variant] if variant in paths else LEARNERS / variant
        schema = new_schema_name() if db_url else None
        schemas.extend([schema] if schema else [])
        op_load(state, {"kata": KATA.slug, "module": str(path), "db_url": db_url, "schema": schema})
        return state

    yield loaded
    Order.__table__.indexes.intersection_update(indexes)
    for schema in schemas:
        drop_schema(db_url, schema)


def judged(state: WorkerState, size: int, wrong: bool = False) -> dict:
    """The counted run, then the parent's judgement of its logged statements (and what
    the gate said of its output, which must be right unless `wrong`)."""
    measured = measure_size(state, size, SEED, memory_seed=None)
    said = verify_dashboard(data.generate(size, SEED), measured["output"])
    assert wrong or said is None, said
    counters, notes = KATA.extras["judge_statements"](
        state.engine, measured["statement_log"], measured["output"], size
    )
    diagnostics = [d["message"] for d in measured["diagnostics"]]
    return {
        **measured["counters"],
        **counters,
        "notes": dict(notes),
        "said": diagnostics,
        "gate": said,
    }


def test_the_data_holds_every_trap_the_orderings_have():
    shop = data.generate(SMALL, SEED)
    products = data.top_products(shop)
    # twins sell exactly as many units: ties at the top of every category and at its cut
    assert all(products[i]["units"] == products[i + 1]["units"] for i in range(0, 18, 3))
    spent = [c["spent_cents"] for c in data.top_customers(shop)]
    assert spent[-2] == spent[-1] == 3_800_000  # three big spenders tie for two places
    assert any(o["created_at"] == data.SINCE for o in shop.orders)
    feed = data.feed_order(shop)
    assert any(a["created_at"] == b["created_at"] for a, b in itertools.pairwise(feed))
    assert [o["id"] for o in feed] != sorted((o["id"] for o in feed), reverse=True)
    pages = data.feed_pages(shop)
    assert len(pages) == data.FEED_PAGES and len(pages[-1]) == SMALL % data.PAGE_SIZE
    # a refunded checkout at `since`: ties in the refunds, their ids out of time order
    tied = [r["id"] for r in data.refunds(shop)][-3:]
    at_since = [o["id"] for o in shop.orders if o["created_at"] == data.SINCE]
    assert len(at_since) >= 3 and set(tied) <= set(at_since)
    assert tied == sorted(tied, reverse=True) != sorted(tied)
    # at 400 orders the walk's 20th page is full and the last: its next cursor is None
    full = data.expected(data.generate(INDEXED, SEED))
    assert len(full["feed"][-1]) == data.PAGE_SIZE and full["feed_more"] is False


def test_rows_in_another_order_are_told_the_order_asked_for():
    shop = data.generate(SMALL, SEED)
    output = data.expected(shop)
    output["refunds"] = sorted(output["refunds"], key=lambda r: r["id"])
    said = verify_dashboard(shop, output)
    assert said.startswith("refunds: ") and "the right rows in another order: newest" in said


def test_a_cursor_after_the_last_page_is_an_extra_page():
    shop = data.generate(SMALL, SEED)
    output = data.expected(shop)
    output["feed"] = [*output["feed"], []]
    assert "expected 20: return None as the next cursor" in verify_dashboard(shop, output)


def test_starter_is_counted_per_customer_scans_and_pages_by_offset(load, db_url):
    counted = judged(load("starter"), SMALL)
    customers = SMALL // 10
    # revenue 1, lines + products 2, customers 1 + one per customer, refunds 1, 20 pages
    assert counted["statements"] == 25 + customers
    assert counted["filter_scans"] == 1 and counted["feed_full_scans"] == 20
    assert counted["feed_depth"] == 20  # OFFSET: 20 more rows skipped per page
    assert counted["feed_excess_rows"] == SMALL - data.PAGE_SIZE  # the last page read all
    assert counted["orm_objects"] > 3 * SMALL
    plan = "Seq Scan on orders" if db_url else "SCAN orders"  # each engine's own EXPLAIN
    assert counted["notes"]["filter_scans"].startswith(
        f"orders filtered by status scan the whole table (plan: {plan} at dashboard.py:"
    )
    assert counted["notes"]["feed_depth"].startswith(f"page 20 reads {SMALL} rows to show 20")
    # each widget's session is its own request: the N+1 is named from what it queried
    assert any(
        m.startswith(
            f"N+1: Customer.orders lazily loaded {customers} times at dashboard.py:66 — add "
            ".options(selectinload(Customer.orders))"
        )
        for m in counted["said"]
    )
    assert any(
        m.startswith(f"revenue_by_day loads {SMALL} Order objects to sum them at dashboard.py:29")
        for m in counted["said"]
    )


def test_reference_costs_one_statement_per_widget_and_page(load):
    counted = judged(load("reference"), INDEXED)
    assert counted["statements"] == 4 + data.FEED_PAGES
    assert counted["orm_objects"] == 0
    assert counted["filter_scans"] == 0 and counted["feed_full_scans"] == 0
    assert counted["feed_depth"] == 0 and counted["feed_excess_rows"] == 1  # the look-ahead
    assert counted["notes"] == {}
    assert [m for m in counted["said"] if not m.startswith("the queries are not")] == []


def test_starter_rows_fetched_grow_with_the_table_the_references_do_not(load):
    rows = judged(load("starter"), SMALL)["rows_fetched"]
    shop = data.generate(SMALL, SEED)
    sold = {o["id"] for o in shop.orders if o["status"] in data.SOLD}
    lines = sum(1 for line in shop.lines if line["order_id"] in sold)
    refunds = len(data.refunds(shop))
    # every order, every sold line and the 48 products, every customer and their orders
    assert rows == SMALL + lines + 48 + SMALL // 10 + SMALL + refunds


def test_literal_sql_binds_sqlite_parameters_as_the_driver_would():
    sql = literal_sql("sqlite", None, "SELECT ? , ?, ?", ("it's", 3, None))
    assert sql == "SELECT 'it''s' , 3, NULL"


def test_a_database_outside_the_workers_scratch_is_refused(tmp_path):
    with pytest.raises(InternalError, match="outside its scratch folder"):
        sqlite_opener("/etc/passwd", tmp_path)
    opened = sqlite_opener(str(tmp_path / "kata.sqlite3"), tmp_path)
    assert opened is not None and "mode=ro" in str(opened().url)


def test_refunds_answered_without_a_query_of_their_own_count_as_unindexed(tmp_path):
    # Given a run whose refunds() sent nothing (served from rows another widget read)
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    Base.metadata.create_all(engine)
    log = [["revenue_by_day", "SELECT id, status, created_at FROM orders", "dashboard.py:9"]]
    # When the parent judges the log, Then the filter check fails and says why
    counters, notes = audit(engine, log, {"refunds": []}, SMALL)
    assert counters["filter_scans"] == 1
    assert dict(notes)["filter_scans"].startswith("refunds() ran no query of its own")


def test_a_statement_that_cannot_be_replayed_counts_as_reading_every_order(tmp_path):
    # Given rows read from a temporary table of the learner's own connection
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    Base.metadata.create_all(engine)
    log = [["refunds", "SELECT id FROM mine_only", "dashboard.py:12"]]
    # When the parent replays it, Then it fails the checks it could have passed
    counters, notes = audit(engine, log, {"refunds": []}, SMALL)
    assert counters["unreplayable_statements"] == 1 and counters["filter_scans"] == 1
    assert counters["rows_fetched"] == SMALL
    assert any("(no such table: mine_only at dashboard.py:12)" in m for _, m in notes)


# A learner's report (staging/learner-analytics-dashboard): four correct shapes, and the
# four that passed before these checks — judged in this process at the sizes that decide
# them (SQLite plans without statistics, so a plan at 400 orders is the plan at 6,000);
# tests/grader/test_dashboard_learners.py grades the older samples end to end.
REPORTED_CORRECT = [
    "core_window_keyset_tuple.py",  # tuple_ keyset, (datetime, id) cursor, (status, created_at, id)
    "orm_query_rank_cte_seek_dictcursor.py",  # c <= x AND (c < x OR id < y), DESC indexes
    "rawtext_sql_rowvalue_stringcursor.py",  # text() row value, an opaque "ts|id" cursor
    "orm2_nowindow_correlated_rank_idcursor.py",  # id cursor seeking through a subquery
]


@pytest.mark.parametrize(
    ("name", "db_url"),
    [
        *((name, "sqlite") for name in REPORTED_CORRECT),
        # PostgreSQL's EXPLAIN ANALYZE counts the tied rows the bounded OR filters out
        ("orm_query_rank_cte_seek_dictcursor.py", "postgresql"),
    ],
    indirect=["db_url"],
)
def test_reported_correct_shapes_stay_flat_and_right_without_their_indexes(load, db_url, name):
    state = load(name)
    assert judged(state, SMALL)["gate"] is None  # right under any plan
    counted = judged(state, INDEXED)
    assert abs(counted["feed_depth"]) < 0.5
    # the look-ahead row; on PostgreSQL also the cursor's tied rows its filter drops
    assert (
        counted["feed_excess_rows"] == 1
        if db_url is None
        else 1 <= counted["feed_excess_rows"] <= 5
    )
    if db_url is None:  # PostgreSQL plans by statistics: at 400 orders it may Seq Scan
        assert counted["filter_scans"] == 0 and counted["feed_full_scans"] == 0
        assert counted["notes"] == {}


def test_a_bare_or_seek_reads_every_row_before_the_cursor(load, db_url):
    # Given created_at < :c OR (created_at = :c AND id < :i), its values bound
    counted = judged(load("wrong_keyset_bare_or_predicate.py"), INDEXED)
    # Then a deep page reads the rows of the pages before it: it fails the depth check
    assert counted["feed_depth"] > 1
    said = counted["notes"]["feed_depth"]
    assert said.startswith("page ") and "wrong_keyset_bare_or_predicate.py:122" in said
    assert "— its plan walks orders from the newest one and drops every row before" in said
    if db_url is None:  # SQLite scans the index from the newest order to the cursor
        assert counted["feed_depth"] == data.PAGE_SIZE and counted["feed_excess_rows"] == 380
        assert said.startswith(
            "page 20 reads 400 rows to show 20 at wrong_keyset_bare_or_predicate.py:122 — its "
            "plan walks orders from the newest one and drops every row before the cursor (SCAN "
            "orders USING INDEX ix_orders_created_at_id)"
        )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_cursor_from_a_full_last_page_is_wrong_output(load):
    said = judged(load("wrong_offbyone_full_last_page.py"), INDEXED, wrong=True)["gate"]
    assert said.startswith("feed page 20 holds the last order but returned a next cursor")


def test_refunds_ordered_by_time_alone_are_wrong_without_the_index(load):
    said = judged(load("wrong_refunds_no_id_tiebreak.py"), SMALL, wrong=True)["gate"]
    assert said.startswith("refunds: item ") and "built without your indexes" in said


def test_a_refunds_index_on_status_alone_reads_every_refund_ever(load, db_url):
    counted = judged(load("status_only_index.py"), INDEXED)
    assert counted["filter_scans"] == 1
    said = counted["notes"]["filter_scans"]
    assert said.startswith(
        "the refunds filter reads every refunded order the shop ever had, not only those "
        "since `since`, and sorts them (plan: "
    )
    assert said.endswith(
        "at status_only_index.py:102) — put the range column after status in the index: "
        "(status, created_at)"
    )
    if db_url is None:
        assert "(plan: SEARCH orders USING INDEX ix_orders_status (status=?) at" in said


def test_feed_pages_are_planned_with_their_literals_bound_again():
    sql = "SELECT id FROM orders WHERE created_at < '2027-01-01 10:00:00' AND id < 12 LIMIT 21"
    bound, values = parametrised(sql)
    assert bound == "SELECT id FROM orders WHERE created_at < ? AND id < ? LIMIT ?"
    assert values == ["2027-01-01 10:00:00", 12, 21]
    assert parametrised("SELECT 'it''s', t1.x FROM t1")[1] == ["it's"]


def test_postgresql_page_cost_counts_rows_its_filter_threw_away():
    plan = {"Node Type": "Limit", "Plans": [
        {"Node Type": "Index Scan", "Relation Name": "orders", "Actual Rows": 21,
         "Actual Loops": 1, "Rows Removed by Filter": 380},
        {"Node Type": "Index Scan", "Relation Name": "customers", "Actual Rows": 9},
    ]}  # fmt: skip
    assert pg_visited(plan) == 401


def test_postgresql_plans_pass_only_an_index_search_on_status():
    bitmap = {
        "Node Type": "Bitmap Heap Scan",
        "Relation Name": "orders",
        "Recheck Cond": "(((status)::text = 'refunded'::text) AND (created_at >= '…'))",
        "Plans": [{"Node Type": "Bitmap Index Scan", "Index Name": "ix_status_created"}],
    }
    by_date = {
        "Node Type": "Index Scan",
        "Relation Name": "orders",
        "Index Name": "ix_created_id",
        "Index Cond": "(created_at >= '…')",
    }
    sort = {"Node Type": "Sort", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "orders"}]}
    assert pg_unnarrowed(bitmap) is None
    said = "Index Scan on orders using ix_created_id ((created_at >= '…'))"
    assert pg_unnarrowed(by_date) == said
    assert pg_unnarrowed(sort) == pg_full_scan(sort) == "Seq Scan on orders"
    assert pg_full_scan(by_date) is None


def test_sqlite_plans_name_the_alias_a_statement_gives_orders():
    names = orders_names("SELECT o.id FROM orders AS o WHERE o.status = 'refunded'")
    assert names == {"orders", "o"}
    assert sqlite_full_scan(["SCAN o"], names) == "SCAN o"
    assert sqlite_full_scan(["SCAN o USING INDEX ix_created_id"], names) is None  # LIMIT stops it
    assert sqlite_unnarrowed(["SEARCH o USING INDEX ix (status=? AND created_at>?)"], names) is None
