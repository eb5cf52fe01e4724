from collections import defaultdict

from sqlalchemy import Index, func, select, tuple_
from sqlalchemy.orm import Session

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

# refunds: a covering index, the whole answer read from it; the feed: created_at alone
# (ties on it are sorted among themselves, a handful of rows)
Index("orders_refund_cover", Order.status, Order.created_at, Order.id, Order.customer_id, Order.total_cents)
Index("orders_created", Order.created_at)

SOLD = ("paid", "shipped")


def revenue_by_day(session: Session) -> list[dict]:
    sold = select(func.date(Order.created_at).label("day"), Order.total_cents).where(
        Order.status.in_(SOLD)
    ).cte("sold")
    stmt = (
        select(sold.c.day, func.count(), func.sum(sold.c.total_cents))
        .group_by(sold.c.day)
        .order_by(sold.c.day)
    )
    return [
        dict(day=str(day), orders=n, revenue_cents=int(total))
        for day, n, total in session.execute(stmt)
    ]


def top_products(session: Session) -> list[dict]:
    # 48 rows come back, one per product: ranking them here is O(products), not O(lines)
    stmt = (
        select(Product.category, Product.name, func.sum(OrderLine.quantity))
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(SOLD))
        .group_by(Product.id, Product.category, Product.name)
    )
    by_category = defaultdict(list)
    for category, name, units in session.execute(stmt):
        by_category[category].append((-int(units), name))
    result = []
    for category in sorted(by_category):
        for units, name in sorted(by_category[category])[:3]:
            result.append(dict(category=category, product=name, units=-units))
    return result


def top_customers(session: Session) -> list[dict]:
    totals = (
        select(
            Order.customer_id,
            func.count().label("n"),
            func.sum(Order.total_cents).label("spent"),
        )
        .where(Order.status.in_(SOLD))
        .group_by(Order.customer_id)
        .cte("totals")
    )
    stmt = (
        select(Customer.name, totals.c.n, totals.c.spent)
        .join_from(totals, Customer, Customer.id == totals.c.customer_id)
        .order_by(totals.c.spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [dict(customer=a, orders=b, spent_cents=int(c)) for a, b, c in session.execute(stmt)]


def refunds(session: Session, since) -> list[dict]:
    stmt = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .filter(Order.created_at >= since, Order.status == "refunded")
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [dict(r._mapping) for r in session.execute(stmt)]


def orders_feed(session: Session, cursor=None):
    stmt = select(Order.id, Order.customer_id, Order.total_cents, Order.created_at)
    if cursor:
        stmt = stmt.where(
            tuple_(Order.created_at, Order.id) < tuple_(cursor["created_at"], cursor["id"])
        )
    stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(21)
    rows = session.execute(stmt).all()
    page = [dict(id=r.id, customer_id=r.customer_id, total_cents=r.total_cents) for r in rows[:20]]
    if len(rows) == 21:
        return page, {"created_at": rows[19].created_at, "id": rows[19].id}
    return page, None
