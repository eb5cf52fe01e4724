"""Wrong: every widget aggregated and both indexes declared, but the feed still pages
with OFFSET (the index makes page 1 cheap; page 20 reads 401 rows)."""

from sqlalchemy import Index, func, select, tuple_
from sqlalchemy.orm import Session

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

SOLD = ("paid", "shipped")
PAGE_SIZE = 20

Index("ix_orders_status_created_at", Order.status, Order.created_at)
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
    query = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .where(Order.status == "refunded", Order.created_at >= since)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [dict(row._mapping) for row in session.execute(query)]


def orders_feed(session: Session, cursor=None) -> tuple[list[dict], object]:
    page_number = cursor or 0
    query = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .offset(page_number * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    found = session.execute(query).all()
    rows = [dict(r._mapping) for r in found[:PAGE_SIZE]]
    return rows, (page_number + 1 if len(found) > PAGE_SIZE else None)
