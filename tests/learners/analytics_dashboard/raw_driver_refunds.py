"""Wrong (SQLite only): no index on status, and the refunds query sent on a raw sqlite3
connection of its own, around SQLAlchemy — the driver's trace still hands it to the
grader, whose replay reads its plan."""

import sqlite3

from sqlalchemy import Index, func, select, tuple_
from sqlalchemy.orm import Session

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

SOLD = ("paid", "shipped")
PAGE_SIZE = 20

Index("ix_orders_created_at_id", Order.created_at, Order.id)


def revenue_by_day(session: Session) -> list[dict]:
    day = func.date(Order.created_at)
    query = (
        select(day, func.count(Order.id), func.sum(Order.total_cents))
        .where(Order.status.in_(SOLD))
        .group_by(day)
        .order_by(day)
    )
    return [
        {"day": str(d), "orders": count, "revenue_cents": int(revenue)}
        for d, count, revenue in session.execute(query)
    ]


def top_products(session: Session) -> list[dict]:
    units = (
        select(OrderLine.product_id, func.sum(OrderLine.quantity).label("units"))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(SOLD))
        .group_by(OrderLine.product_id)
        .subquery()
    )
    rank = (
        func.row_number()
        .over(
            partition_by=Product.category,
            order_by=(units.c.units.desc(), Product.name, Product.id),
        )
        .label("rank")
    )
    ranked = select(Product.category, Product.name, units.c.units, rank).join(
        units, units.c.product_id == Product.id
    )
    ranked = ranked.subquery()
    query = select(ranked.c.category, ranked.c.name, ranked.c.units).where(ranked.c.rank <= 3)
    query = query.order_by(ranked.c.category, ranked.c.rank)
    return [
        {"category": category, "product": name, "units": int(units_sold)}
        for category, name, units_sold in session.execute(query)
    ]


def top_customers(session: Session) -> list[dict]:
    spent = func.sum(Order.total_cents)
    query = (
        select(Customer.name, func.count(Order.id), spent)
        .join(Order, Order.customer_id == Customer.id)
        .where(Order.status.in_(SOLD))
        .group_by(Customer.id, Customer.name)
        .order_by(spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [
        {"customer": name, "orders": count, "spent_cents": int(total)}
        for name, count, total in session.execute(query)
    ]


def refunds(session: Session, since) -> list[dict]:
    # straight to the driver, on a connection of its own: "the grader can't see this one"
    conn = sqlite3.connect(session.get_bind().url.database)
    try:
        found = conn.execute(
            "SELECT id, customer_id, total_cents FROM orders"
            " WHERE status = 'refunded' AND created_at >= ?"
            " ORDER BY created_at DESC, id DESC",
            (since.strftime("%Y-%m-%d %H:%M:%S.%f"),),
        ).fetchall()
    finally:
        conn.close()
    return [{"id": i, "customer_id": c, "total_cents": t} for i, c, t in found]


def orders_feed(session: Session, cursor=None) -> tuple[list[dict], object]:
    query = select(Order.id, Order.customer_id, Order.total_cents, Order.created_at)
    if cursor is not None:
        query = query.where(tuple_(Order.created_at, Order.id) < tuple_(*cursor))
    query = query.order_by(Order.created_at.desc(), Order.id.desc()).limit(PAGE_SIZE + 1)
    found = session.execute(query).all()
    page = found[:PAGE_SIZE]
    rows = [{"id": r.id, "customer_id": r.customer_id, "total_cents": r.total_cents} for r in page]
    more = len(found) > PAGE_SIZE
    return rows, ((page[-1].created_at, page[-1].id) if more else None)
