"""The kata's own pieces: the oracle's traps, and exact counts for the starter and the
reference — statements, rows the parent's replay counts, plan findings, feed depth — on
SQLite and PostgreSQL."""

import itertools

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
    pg_full_scan,
    pg_unnarrowed,
    sqlite_full_scan,
    sqlite_unnarrowed,
)
from perfkata.katas.analytics_dashboard.models import Base, Order
from perfkata.katas.analytics_dashboard.workload import verify_dashboard

SEED = 5
SMALL = KATA.sizes[0]


@pytest.fixture
def load(db_url, tmp_path):
    """A worker state in this process; the indexes a solution declares on the shared
    Order table are taken off again afterwards, as a fresh worker would have them."""
    schemas: list[str] = []
    indexes = set(Order.__table__.indexes)

    def loaded(variant: str) -> WorkerState:
        state = WorkerState(scratch=tmp_path)
        path = solution_paths(KATA, tmp_path)[variant]
        schema = new_schema_name() if db_url else None
        schemas.extend([schema] if schema else [])
        op_load(state, {"kata": KATA.slug, "module": str(path), "db_url": db_url, "schema": schema})
        return state

    yield loaded
    Order.__table__.indexes.intersection_update(indexes)
    for schema in schemas:
        drop_schema(db_url, schema)


def judged(state: WorkerState, size: int) -> dict:
    """The counted run, then the parent's judgement of its logged statements."""
    measured = measure_size(state, size, SEED, memory_seed=None)
    assert verify_dashboard(data.generate(size, SEED), measured["output"]) is None
    counters, notes = KATA.extras["judge_statements"](
        state.engine, measured["statement_log"], measured["output"], size
    )
    said = [d["message"] for d in measured["diagnostics"]]
    return {**measured["counters"], **counters, "notes": dict(notes), "said": said}


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
    counted = judged(load("reference"), SMALL)
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
