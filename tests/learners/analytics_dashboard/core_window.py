"""Correct: Core tables (Order.__table__), one statement per widget, row_number() for
the top 3, a row-value keyset, and a composite index for each of filter and feed."""

from sqlalchemy import Index, and_, func, select, tuple_
from sqlalchemy.orm import Session

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

orders = Order.__table__
lines = OrderLine.__table__
products = Product.__table__
customers = Customer.__table__

Index("ix_status_created", orders.c.status, orders.c.created_at)
Index("ix_created_id", orders.c.created_at, orders.c.id)

SOLD = ("paid", "shipped")


def revenue_by_day(session: Session):
    day = func.date(orders.c.created_at)
    q = (
        select(day.label("day"), func.count().label("n"), func.sum(orders.c.total_cents).label("rev"))
        .where(orders.c.status.in_(SOLD))
        .group_by(day)
        .order_by(day)
    )
    return [{"day": str(r.day), "orders": r.n, "revenue_cents": int(r.rev)} for r in session.execute(q)]


def top_products(session: Session):
    units = func.sum(lines.c.quantity)
    per_product = (
        select(products.c.category, products.c.name, units.label("units"),
               func.row_number().over(partition_by=products.c.category,
                                      order_by=[units.desc(), products.c.name]).label("rn"))
        .select_from(lines.join(orders, lines.c.order_id == orders.c.id)
                     .join(products, lines.c.product_id == products.c.id))
        .where(orders.c.status.in_(SOLD))
        .group_by(products.c.id, products.c.category, products.c.name)
        .subquery()
    )
    q = (select(per_product.c.category, per_product.c.name, per_product.c.units)
         .where(per_product.c.rn <= 3)
         .order_by(per_product.c.category, per_product.c.rn))
    return [{"category": c, "product": n, "units": int(u)} for c, n, u in session.execute(q)]


def top_customers(session: Session):
    spent = func.sum(orders.c.total_cents)
    q = (
        select(customers.c.name, func.count(orders.c.id), spent)
        .select_from(customers.join(orders, and_(orders.c.customer_id == customers.c.id,
                                                 orders.c.status.in_(SOLD))))
        .group_by(customers.c.id, customers.c.name)
        .order_by(spent.desc(), customers.c.name, customers.c.id)
        .limit(10)
    )
    return [{"customer": n, "orders": c, "spent_cents": int(s)} for n, c, s in session.execute(q)]


def refunds(session: Session, since):
    q = (
        select(orders.c.id, orders.c.customer_id, orders.c.total_cents)
        .where(orders.c.status == "refunded", orders.c.created_at >= since)
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
    )
    return [dict(r._mapping) for r in session.execute(q)]


def orders_feed(session: Session, cursor=None):
    q = select(orders.c.id, orders.c.customer_id, orders.c.total_cents, orders.c.created_at)
    if cursor:
        q = q.where(tuple_(orders.c.created_at, orders.c.id) < tuple_(cursor[0], cursor[1]))
    q = q.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(21)
    got = session.execute(q).all()
    rows = [{"id": r.id, "customer_id": r.customer_id, "total_cents": r.total_cents} for r in got[:20]]
    if len(got) <= 20:
        return rows, None
    last = got[19]
    return rows, (last.created_at, last.id)
