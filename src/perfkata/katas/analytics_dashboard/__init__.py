"""The analytics-dashboard kata: aggregate in SQL, index what you filter, page by key."""

from __future__ import annotations

from importlib.resources import files

from perfkata.katas.analytics_dashboard import data
from perfkata.katas.analytics_dashboard.audit import audit
from perfkata.katas.analytics_dashboard.models import Base
from perfkata.katas.analytics_dashboard.workload import WIDGETS, run_dashboard, verify_dashboard
from perfkata.katas.base import Check, define_kata

HINTS = (
    "Read the grade's lines first: each widget that loads thousands of ORM objects to count "
    "or sum them is named with its line, and so is the plan of the refunds filter and the "
    "rows a deep feed page reads. The database can count, sum, sort and rank: only the "
    "answer needs to come back.",
    "Aggregate in SQL and ask for columns, not objects: select(func.date(Order.created_at), "
    "func.count(Order.id), func.sum(Order.total_cents)).where(…).group_by(…) returns plain "
    "rows. For top-3-per-category, rank inside the database: func.row_number().over("
    "partition_by=Product.category, order_by=(…)) in a subquery, then WHERE rank <= 3.",
    "An index serves a filter when it starts with the columns the WHERE compares: declare "
    'Index("ix_orders_status_created_at", Order.status, Order.created_at) at the top of '
    "dashboard.py (SQLAlchemy attaches it to the table; the grader builds it). The feed's "
    "ORDER BY created_at DESC, id DESC wants an index of its own, on (created_at, id).",
    "Page by key, not by OFFSET: return the last row's (created_at, id) as the cursor and "
    "ask for WHERE tuple_(Order.created_at, Order.id) < tuple_(*cursor) ORDER BY "
    "created_at DESC, id DESC LIMIT 21 — the 21st row only tells you there is a next "
    "page; return None as the cursor when there is none, also after a full last page. "
    "Spelled without a row value, bound the seek: created_at <= :c AND (created_at < :c OR "
    "id < :i) — a bare created_at < :c OR (created_at = :c AND id < :i) is no range to "
    "start from, and SQLite walks the index from the newest order to reach the cursor.",
)

KATA = define_kata(
    slug="analytics-dashboard",
    title="The admin dashboard that loads the whole shop",
    difficulty="intermediate",
    summary="Aggregate in SQL, index what you filter, paginate by key.",
    files=("dashboard.py",),
    entry_points=(*WIDGETS, "orders_feed"),
    # 390: the last page half full, built without the learner's indexes (data.py);
    # 400: the last page full; 2,000 and 6,000: the growth the counted checks fit
    sizes=(data.UNINDEXED_SIZE, 400, 2000, 6000),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=Base,
    generate=data.generate,
    load=data.load,
    verify=verify_dashboard,
    workload=run_dashboard,
    # the starter/reference ratio is already clear at 2,000 orders, and each of the
    # starter's timing rounds costs a third of what it would at 6,000
    timing_size=2000,
    extras={"statement_log": True, "judge_statements": audit},
    rubric=(
        Check.of(
            "correct",
            "correct output",
            "correct",
            "==1",
            0,
            "Return exactly what the starter returns: every widget in its order (ties as "
            "the brief says), every page of the feed, and None after the last one.",
            gate=True,
        ),
        Check.of(
            "statements-flat",
            "statements flat as orders grow",
            "statements:growth",
            "O(1)",
            15,
            "One query per widget and one per feed page: aggregate and join in SQL "
            "instead of loading related rows per customer or per order.",
        ),
        Check.of(
            "rows-fetched",
            "rows fetched as orders grow",
            "rows_fetched:growth",
            # rows the widgets' statements return, per order in the shop: the refunds
            # grow with it (~0.005 per order), everything else is a fixed-size answer
            "slope<=0.05",
            15,
            "Let the database filter and aggregate: fetch the answer, not the table.",
        ),
        Check.of(
            "orm-objects",
            "ORM objects loaded as orders grow",
            "orm_objects:growth",
            "slope<=0.05",
            10,
            "Select columns and aggregates (plain rows), not every Order or OrderLine.",
        ),
        Check.of(
            "filter-index",
            "refunds filter: not narrowed by status, date",
            "filter_scans",
            "==0",
            15,
            "Declare an index that starts with the column the filter compares with = "
            "(status), then the range (created_at): status alone reads every refund ever.",
        ),
        Check.of(
            "feed-index",
            "feed pages reading all of orders",
            "feed_full_scans",
            "==0",
            5,
            "Give the feed's ORDER BY an index to walk, so a page stops after its rows.",
        ),
        Check.of(
            "feed-depth",
            "feed rows read per page deeper",
            "feed_depth",
            "<=1",
            10,
            "Page by key (the last row's created_at and id), not by OFFSET, as a range the "
            "index can seek to: a deep page must cost what the first one does.",
        ),
        Check.of(
            "feed-rows",
            "feed rows read beyond a page's 20",
            "feed_excess_rows",
            # keyset with a look-ahead row reads 21; OFFSET at page 20 reads 401, a page
            # sliced out of every order in Python the whole table
            "<=20",
            10,
            "Fetch one page from the database (LIMIT 21 after the cursor), not the table.",
        ),
        Check.of(
            "memory",
            "peak memory as orders grow",
            "peak_bytes:tail",
            "slope<=20",
            10,
            "Hold the answer, not the table: aggregate in the database.",
        ),
        Check.of(
            "speedup",
            "dashboard speed-up vs starter",
            "speedup",
            ">=0.4*ref & >=2",
            10,
            "Fewer rows and objects make the dashboard fast: fix the counted checks first.",
        ),
    ),
)
