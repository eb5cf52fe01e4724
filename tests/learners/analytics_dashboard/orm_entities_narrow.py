"""Correct, from someone who likes ORM entities: the feed and the refunds load Order
objects (20 a page, a few dozen refunds — O(result)), everything else is aggregated.
Indexes with DESC columns, as the feed reads them."""

from sqlalchemy import Index, func, select
from sqlalchemy.orm import Session, load_only

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

Index("ix_orders_status_created_desc", Order.status, Order.created_at.desc())
Index("ix_orders_feed_desc", Order.created_at.desc(), Order.id.desc())

SOLD = ("paid", "shipped")


def row(order: Order) -> dict:
    return {"id": order.id, "customer_id": order.customer_id, "total_cents": order.total_cents}


def revenue_by_day(session):
    d = func.date(Order.created_at)
    result = session.execute(
        select(d, func.count(), func.sum(Order.total_cents))
        .filter(Order.status.in_(SOLD)).group_by(d).order_by(d)
    )
    return [{"day": str(a), "orders": b, "revenue_cents": int(c)} for a, b, c in result]


def top_products(session):
    total = func.sum(OrderLine.quantity).label("units")
    rn = func.row_number().over(
        partition_by=Product.category, order_by=(total.desc(), Product.name)
    ).label("rn")
    inner = (
        select(Product.category, Product.name, total, rn)
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(Order, Order.id == OrderLine.order_id)
        .filter(Order.status.in_(SOLD))
        .group_by(Product.id, Product.category, Product.name)
    ).subquery()
    result = session.execute(
        select(inner.c.category, inner.c.name, inner.c.units)
        .filter(inner.c.rn <= 3).order_by(inner.c.category, inner.c.rn)
    )
    return [{"category": a, "product": b, "units": int(c)} for a, b, c in result]


def top_customers(session):
    spent = func.sum(Order.total_cents)
    result = session.execute(
        select(Customer.name, func.count(Order.id), spent)
        .join(Customer.orders)
        .filter(Order.status.in_(SOLD))
        .group_by(Customer.id, Customer.name)
        .order_by(spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [{"customer": a, "orders": b, "spent_cents": int(c)} for a, b, c in result]


def refunds(session, since):
    query = (
        select(Order)
        .options(load_only(Order.id, Order.customer_id, Order.total_cents))
        .filter(Order.status == "refunded", Order.created_at >= since)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [row(o) for o in session.scalars(query)]


def orders_feed(session, cursor=None):
    query = select(Order).order_by(Order.created_at.desc(), Order.id.desc())
    if cursor is not None:
        created_at, order_id = cursor
        query = query.filter(
            (Order.created_at <= created_at)
            & ((Order.created_at < created_at) | (Order.id < order_id))
        )
    found = session.scalars(query.limit(21)).all()
    page = found[:20]
    more = len(found) > 20
    return [row(o) for o in page], ((page[-1].created_at, page[-1].id) if more else None)
