"""Correct: no window functions (a correlated COUNT ranks), the cursor the last id alone,
sought through a scalar subquery; indexes ending in SQLite's implicit rowid.

From a learner's report (the grade before these checks passed it or is noted):
Learner: "Sven", learned SQL on MySQL 5.7 (no window functions), writes 2.0-style
ORM select() against mapped attributes and reads results with .mappings().

Shape: no window functions at all: top_products ranks with a correlated COUNT subquery
("how many products in my category beat me?" < 3) over a CTE of per-product units;
top_customers joins Customer to an aggregated subquery. Indexes rely on SQLite's implicit
rowid (= Order.id, an INTEGER PRIMARY KEY) at the end of every index: (status, created_at)
for refunds and (created_at) alone for the feed. The feed cursor is just the last order's
id; the next page seeks after that order's (created_at, id) looked up in a scalar row
subquery: WHERE (created_at, id) < (SELECT created_at, id FROM orders WHERE id = :last).

EXPECTED verdict: PASS (all outputs identical, every counted check within threshold;
the cursor subquery reads one row by primary key).
"""

from sqlalchemy import Index, and_, func, or_, select, tuple_
from sqlalchemy.orm import aliased

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

SOLD = ("paid", "shipped")
PAGE_SIZE = 20

Index("ix_orders_status_created", Order.status, Order.created_at)
Index("ix_orders_created", Order.created_at)


def revenue_by_day(session):
    day = func.date(Order.created_at).label("day")
    stmt = (
        select(
            day,
            func.count(Order.id).label("orders"),
            func.coalesce(func.sum(Order.total_cents), 0).label("revenue_cents"),
        )
        .where(Order.status.in_(SOLD))
        .group_by(day)
        .order_by(day)
    )
    return [
        {"day": str(m["day"]), "orders": m["orders"], "revenue_cents": m["revenue_cents"]}
        for m in session.execute(stmt).mappings()
    ]


def top_products(session):
    u = (
        select(
            Product.id.label("pid"),
            Product.category.label("category"),
            Product.name.label("name"),
            func.sum(OrderLine.quantity).label("units"),
        )
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(SOLD))
        .group_by(Product.id, Product.category, Product.name)
        .cte("u")
    )
    better = u.alias("better")
    beaten_by = (
        select(func.count())
        .select_from(better)
        .where(
            better.c.category == u.c.category,
            or_(
                better.c.units > u.c.units,
                and_(better.c.units == u.c.units, better.c.name < u.c.name),
                and_(
                    better.c.units == u.c.units,
                    better.c.name == u.c.name,
                    better.c.pid < u.c.pid,
                ),
            ),
        )
        .correlate(u)
        .scalar_subquery()
    )
    stmt = (
        select(u.c.category, u.c.name, u.c.units)
        .where(u.c.units > 0, beaten_by < 3)
        .order_by(u.c.category, u.c.units.desc(), u.c.name, u.c.pid)
    )
    return [
        {"category": m["category"], "product": m["name"], "units": m["units"]}
        for m in session.execute(stmt).mappings()
    ]


def top_customers(session):
    agg = (
        select(
            Order.customer_id,
            func.count(Order.id).label("orders"),
            func.sum(Order.total_cents).label("spent"),
        )
        .where(Order.status.in_(SOLD))
        .group_by(Order.customer_id)
        .subquery()
    )
    stmt = (
        select(Customer.name.label("customer"), agg.c.orders, agg.c.spent)
        .join(agg, agg.c.customer_id == Customer.id)
        .order_by(agg.c.spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [
        {"customer": m["customer"], "orders": m["orders"], "spent_cents": m["spent"]}
        for m in session.execute(stmt).mappings()
    ]


def refunds(session, since):
    stmt = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .where(Order.status == "refunded")
        .where(Order.created_at >= since)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [dict(m) for m in session.execute(stmt).mappings()]


def orders_feed(session, cursor=None):
    stmt = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if cursor is not None:
        prev = aliased(Order)
        anchor = select(prev.created_at, prev.id).where(prev.id == cursor).scalar_subquery()
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < anchor)
    got = [dict(m) for m in session.execute(stmt).mappings()]
    if len(got) > PAGE_SIZE:
        return got[:PAGE_SIZE], got[PAGE_SIZE - 1]["id"]
    return got, None
