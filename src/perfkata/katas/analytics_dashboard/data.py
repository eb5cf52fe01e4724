"""The dataset: generated in memory from (size, seed), then written to the database with
bulk INSERTs (one executemany per table and chunk: a grade builds each size several
times, so the build is part of every grade's time).

The rows are made to hold every trap the widgets' orderings have: products that sell
exactly as many units as their twin (ties at the top-3 cut, broken by name), customers
whose totals tie at the top-10 cut, orders sharing a checkout's timestamp (ties in the
feed's order, broken by id), ids that do not follow time (an import), and orders exactly
at the filter's `since`. The oracle reads the in-memory copy, never the database.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.schema import DropIndex

from perfkata.katas.analytics_dashboard.models import MODEL_INDEXES, Base

NOW = datetime(2027, 5, 1)  # naive UTC: the dashboard is looked at on this morning
DAYS = 60  # orders span the 60 days before NOW
SOLD = ("paid", "shipped")  # the statuses revenue and rankings count
FILTER_STATUS = "refunded"
SINCE = NOW - timedelta(days=7)  # the filtered widget's window
PAGE_SIZE = 20
FEED_PAGES = 20  # pages walked per run: at 390 and 400 orders all of them, the last one
# half full at 390 and full at 400 (its next cursor must be None all the same)
# The dataset built without the learner's indexes: an order only an index's walk gives
# (ties on created_at coming out by id) is not the order the ORDER BY asks for.
UNINDEXED_SIZE = 390
TOP_PER_CATEGORY = 3
TOP_CUSTOMERS = 10

CATEGORIES = ("Books", "Games", "Garden", "Kitchen", "Music", "Tools")
WORDS = ("Amber", "Basil", "Cedar", "Delta", "Ember", "Fjord", "Gale", "Haven", "Iris", "Juno")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
REGIONS = ("north", "south", "east", "west")
# Within a category, products by position: how often each is picked, and which position
# copies every line of another (same order, same quantity) so the two tie exactly.
WEIGHTS = (9, 0, 6, 0, 4, 3, 2, 1)
TWIN_OF = {1: 0, 3: 2}
TWINS = {original: twin for twin, original in TWIN_OF.items()}
CUMULATIVE = list(itertools.accumulate(WEIGHTS))
# Big spenders: their totals (in cents), three tied at the top-10 cut and two above it.
VIP_TOTALS = (5_000_000, 4_800_000, 4_800_000, 4_600_000, 4_400_000, 4_400_000, 4_200_000,
              4_000_000, 3_800_000, 3_800_000, 3_800_000)  # fmt: skip


@dataclass(frozen=True)
class ShopData:
    customers: list[dict[str, Any]]
    products: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    lines: list[dict[str, Any]]


def make_products(rng: random.Random) -> list[dict[str, Any]]:
    """Eight products per category; names shuffled so id order is not name order."""
    products = []
    for c, category in enumerate(CATEGORIES):
        names = rng.sample(WORDS, len(WEIGHTS))
        for position, name in enumerate(names):
            products.append(
                {"id": c * len(WEIGHTS) + position + 1, "name": f"{name} {category[:-1]}",
                 "category": category}
            )  # fmt: skip
    return products


def make_customers(rng: random.Random, count: int) -> tuple[list[dict[str, Any]], list[int]]:
    """`count` customers, some of them big spenders (by id, scattered among the rest)."""
    customers = [
        {
            "id": i,
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.randrange(10**4):04d}",
            "region": rng.choice(REGIONS),
        }
        for i in range(1, count + 1)
    ]
    vips = rng.sample(range(1, count + 1), len(VIP_TOTALS))
    return customers, vips


def timestamp(rng: random.Random) -> datetime:
    """Ten-minute steps: a busy shop's orders share timestamps (ties in the feed)."""
    return NOW - timedelta(minutes=10 * (1 + int(rng.random() * DAYS * 144)))


def status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.9:
        return "paid" if roll < 0.7 else "shipped"
    return "refunded" if roll < 0.94 else "cancelled"


def generate(size: int, seed: int) -> ShopData:
    """`size` orders by size/10 customers, 1–4 lines each (twins copy lines), over 48
    products; the big spenders order nothing else."""
    rng = random.Random(seed)
    products = make_products(rng)
    customers, vips = make_customers(rng, max(len(VIP_TOTALS) + 5, size // 10))
    regular = sorted(set(range(1, len(customers) + 1)) - set(vips))
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for vip, total in zip(vips, VIP_TOTALS, strict=True):
        for part in (total // 2, total - total // 2):  # two paid orders of one line each
            add_order(orders, lines, vip, "paid", timestamp(rng), [(len(WEIGHTS) * 6, 1, part)])
    boundary = len(VIP_TOTALS) * 2  # the first regular order: a refund exactly at SINCE
    while len(orders) < size:
        tied = boundary < len(orders) <= boundary + 2  # two more in its checkout: tied refunds
        if tied or (orders and rng.random() < 0.15):  # a checkout's orders: same time, status
            at, state = orders[-1]["created_at"], orders[-1]["status"]
        elif len(orders) == boundary or rng.random() < 0.002:
            at, state = SINCE, FILTER_STATUS  # exactly on the filter's boundary
        else:
            at, state = timestamp(rng), status(rng)
        add_order(orders, lines, rng.choice(regular), state, at, order_lines(rng))
    shuffle_ids(rng, orders, lines)
    return ShopData(customers, products, orders, lines)


def order_lines(rng: random.Random) -> list[tuple[int, int, int]]:
    """(product id, quantity, unit price in cents) for one order; a twin copies its line."""
    picked: list[tuple[int, int, int]] = []
    for _ in range(1 + (rng.random() < 0.5)):
        category = int(rng.random() * len(CATEGORIES))
        position = bisect.bisect(CUMULATIVE, rng.random() * CUMULATIVE[-1])
        quantity, price = 1 + int(rng.random() * 3), 100 * (3 + int(rng.random() * 58))
        base = category * len(WEIGHTS) + 1
        picked.append((base + position, quantity, price))
        twin = TWINS.get(position)
        if twin is not None:
            picked.append((base + twin, quantity, price))
    return picked


def add_order(
    orders: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    customer_id: int,
    state: str,
    at: datetime,
    items: list[tuple[int, int, int]],
) -> None:
    order_id = len(orders) + 1
    for product_id, quantity, price in items:
        lines.append(
            {"id": len(lines) + 1, "order_id": order_id, "product_id": product_id,
             "quantity": quantity, "price_cents": price}
        )  # fmt: skip
    total = sum(quantity * price for _, quantity, price in items)
    orders.append(
        {"id": order_id, "customer_id": customer_id, "status": state, "created_at": at,
         "total_cents": total}
    )  # fmt: skip


def shuffle_ids(
    rng: random.Random, orders: list[dict[str, Any]], lines: list[dict[str, Any]]
) -> None:
    """Ids that do not follow time, as after an import: paging by id alone is wrong."""
    new_ids = list(range(1, len(orders) + 1))
    rng.shuffle(new_ids)
    for order in orders:
        order["id"] = new_ids[order["id"] - 1]
    for line in lines:
        line["order_id"] = new_ids[line["order_id"] - 1]
    orders.sort(key=lambda o: o["id"])


COLUMNS = {
    "customers": ("id", "name", "region"),
    "products": ("id", "name", "category"),
    "orders": ("id", "customer_id", "status", "created_at", "total_cents"),
    "order_lines": ("id", "order_id", "product_id", "quantity", "price_cents"),
}


def load(session: Session, data: ShopData) -> None:
    """Straight to the driver: SQLAlchemy's per-row bind processing cost more than
    SQLite's inserts (0.8 s of a 12,000-order build, 0.2 s of it formatting datetimes
    with strftime); PostgreSQL gets COPY."""
    raw: Any = session.connection().connection.driver_connection
    tables = (
        ("customers", data.customers),
        ("products", data.products),
        ("orders", data.orders),
        ("order_lines", data.lines),
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    for table, rows in tables:
        names = COLUMNS[table]
        values = [tuple(row[n] for n in names) for row in rows]
        if postgres:
            copy_rows(raw, table, names, values)
        else:
            if table == "orders":  # SQLAlchemy's SQLite DateTime format, so filters compare
                values = [(*v[:3], f"{v[3]}.000000", v[4]) for v in values]  # whole minutes
            marks = ", ".join("?" * len(names))
            raw.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)
    if len(data.orders) == UNINDEXED_SIZE:
        drop_learner_indexes(session)
    session.commit()
    if postgres:
        session.execute(text("ANALYZE"))  # plans from real statistics, as on a live server
        session.commit()


def drop_learner_indexes(session: Session) -> None:
    """The indexes the learner declared on orders, dropped from this dataset: its outputs
    must be right under any plan (the checks on plans are read at the largest size)."""
    for index in Base.metadata.tables["orders"].indexes:
        if index.name not in MODEL_INDEXES:
            session.execute(DropIndex(index))


def copy_rows(raw: Any, table: str, names: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for row in values:
            copy.write_row(row)


# The oracle: what each widget must return, computed from the generated rows.


def revenue_by_day(data: ShopData) -> list[dict[str, Any]]:
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for order in data.orders:
        if order["status"] in SOLD:
            day = days[order["created_at"].date().isoformat()]
            day[0] += 1
            day[1] += order["total_cents"]
    return [
        {"day": day, "orders": count, "revenue_cents": revenue}
        for day, (count, revenue) in sorted(days.items())
    ]


def top_products(data: ShopData) -> list[dict[str, Any]]:
    sold = {o["id"] for o in data.orders if o["status"] in SOLD}
    units: dict[int, int] = defaultdict(int)
    for line in data.lines:
        if line["order_id"] in sold:
            units[line["product_id"]] += line["quantity"]
    found = []
    for category in sorted(CATEGORIES):
        ranked = sorted(
            (p for p in data.products if p["category"] == category and units[p["id"]]),
            key=lambda p: (-units[p["id"]], p["name"], p["id"]),
        )
        found += [
            {"category": category, "product": p["name"], "units": units[p["id"]]}
            for p in ranked[:TOP_PER_CATEGORY]
        ]
    return found


def top_customers(data: ShopData) -> list[dict[str, Any]]:
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for order in data.orders:
        if order["status"] in SOLD:
            totals[order["customer_id"]][0] += 1
            totals[order["customer_id"]][1] += order["total_cents"]
    names = {c["id"]: c["name"] for c in data.customers}
    ranked = sorted(totals, key=lambda c: (-totals[c][1], names[c], c))[:TOP_CUSTOMERS]
    return [
        {"customer": names[c], "orders": totals[c][0], "spent_cents": totals[c][1]} for c in ranked
    ]


def feed_order(data: ShopData) -> list[dict[str, Any]]:
    """Every order, newest first; ties on the timestamp by id, highest first."""
    return sorted(data.orders, key=lambda o: (o["created_at"], o["id"]), reverse=True)


def as_row(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": order["id"],
        "customer_id": order["customer_id"],
        "total_cents": order["total_cents"],
    }


def refunds(data: ShopData) -> list[dict[str, Any]]:
    return [
        as_row(o)
        for o in feed_order(data)
        if o["status"] == FILTER_STATUS and o["created_at"] >= SINCE
    ]


def feed_pages(data: ShopData) -> list[list[dict[str, Any]]]:
    """The pages a walk of the feed sees, at most FEED_PAGES of them."""
    ordered = [as_row(o) for o in feed_order(data)[: PAGE_SIZE * FEED_PAGES]]
    return [ordered[i : i + PAGE_SIZE] for i in range(0, len(ordered), PAGE_SIZE)]


def expected(data: ShopData) -> dict[str, Any]:
    return {
        "revenue_by_day": revenue_by_day(data),
        "top_products": top_products(data),
        "top_customers": top_customers(data),
        "refunds": refunds(data),
        "feed": feed_pages(data),
        # whether the walk's last page hands back a cursor: more orders follow it
        "feed_more": len(data.orders) > PAGE_SIZE * FEED_PAGES,
    }
