"""Wrong: the refunds index on status alone: the filter reads every refund the shop ever
had and sorts them (refunds filter).

From a learner's report (the grade before these checks passed it or is noted):
Learner: "Chris", read "an index search on status" in the brief and indexed exactly that:
a single-column index on status for refunds (plus (created_at, id) for the feed).

Shape: correct Core widgets, tuple keyset feed; refunds index is Index(Order.status) only.

EXPECTED verdict: borderline — I (as a learner) would call it a PARTIAL fix that should
FAIL: the task says "Index what you filter and sort" and hint 3 says (status, created_at);
with status alone the plan reads every refunded order ever (not just the week) and sorts
them in a temp B-tree, so the refunds cost still grows with the shop's history.
But the brief's threshold row only asks for "an index search on status (no full scan, and
no search on created_at alone)", which status-alone satisfies literally, so it may pass.
"""

from sqlalchemy import Index, func, select, tuple_

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

SOLD = ("paid", "shipped")
PAGE_SIZE = 20

Index("ix_orders_status", Order.status)
Index("ix_orders_created_at_id", Order.created_at, Order.id)


def revenue_by_day(session):
    day = func.date(Order.created_at)
    stmt = (
        select(day.label("day"), func.count(Order.id), func.sum(Order.total_cents))
        .where(Order.status.in_(SOLD))
        .group_by(day)
        .order_by(day)
    )
    return [
        {"day": str(d), "orders": n, "revenue_cents": int(rev)}
        for d, n, rev in session.execute(stmt)
    ]


def top_products(session):
    units = func.sum(OrderLine.quantity)
    per_product = (
        select(
            Product.id.label("pid"),
            Product.category.label("category"),
            Product.name.label("name"),
            units.label("units"),
        )
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(SOLD))
        .group_by(Product.id, Product.category, Product.name)
        .subquery()
    )
    ranked = select(
        per_product.c.category,
        per_product.c.name,
        per_product.c.units,
        func.row_number()
        .over(
            partition_by=per_product.c.category,
            order_by=(per_product.c.units.desc(), per_product.c.name, per_product.c.pid),
        )
        .label("rn"),
    ).subquery()
    stmt = (
        select(ranked.c.category, ranked.c.name, ranked.c.units)
        .where(ranked.c.rn <= 3, ranked.c.units > 0)
        .order_by(ranked.c.category, ranked.c.rn)
    )
    return [
        {"category": c, "product": n, "units": int(u)} for c, n, u in session.execute(stmt)
    ]


def top_customers(session):
    spent = func.sum(Order.total_cents)
    stmt = (
        select(Customer.name, func.count(Order.id), spent)
        .join(Order, Order.customer_id == Customer.id)
        .where(Order.status.in_(SOLD))
        .group_by(Customer.id, Customer.name)
        .order_by(spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [
        {"customer": name, "orders": n, "spent_cents": int(s)}
        for name, n, s in session.execute(stmt)
    ]


def refunds(session, since):
    stmt = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .where(Order.status == "refunded", Order.created_at >= since)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [
        {"id": i, "customer_id": c, "total_cents": t} for i, c, t in session.execute(stmt)
    ]


def orders_feed(session, cursor=None):
    stmt = (
        select(Order.id, Order.customer_id, Order.total_cents, Order.created_at)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if cursor is not None:
        last_created_at, last_id = cursor
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(last_created_at, last_id))
    result = session.execute(stmt).all()
    page = result[:PAGE_SIZE]
    rows = [{"id": r.id, "customer_id": r.customer_id, "total_cents": r.total_cents} for r in page]
    next_cursor = (page[-1].created_at, page[-1].id) if len(result) > PAGE_SIZE else None
    return rows, next_cursor
