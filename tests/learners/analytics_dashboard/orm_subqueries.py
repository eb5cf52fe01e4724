# Correct, written ORM-first: correlated subqueries instead of a window function, a
# keyset spelled out with OR under a created_at bound (a bare OR plans as a scan of the
# whole index up to the cursor), an index on (status, created_at) and one on (created_at, id).
from sqlalchemy import Index, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

Index("orders_by_status", Order.status, Order.created_at)
Index("orders_by_time", Order.created_at, Order.id)

SOLD = ["paid", "shipped"]
PAGE = 20


def units_sold(name):
    return (
        select(OrderLine.product_id.label("pid"), func.sum(OrderLine.quantity).label("units"))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.in_(SOLD))
        .group_by(OrderLine.product_id)
        .subquery(name)
    )


def revenue_by_day(session: Session) -> list[dict]:
    rows = session.execute(
        select(func.date(Order.created_at), func.count(Order.id), func.sum(Order.total_cents))
        .where(Order.status.in_(SOLD))
        .group_by(func.date(Order.created_at))
        .order_by(func.date(Order.created_at))
    )
    out = []
    for day, count, revenue in rows:
        out.append({"day": str(day), "orders": count, "revenue_cents": int(revenue)})
    return out


def top_products(session: Session) -> list[dict]:
    mine, other = units_sold("mine"), units_sold("other")
    p2 = aliased(Product)
    # how many products of the same category rank above this one
    better = (
        select(func.count())
        .select_from(other)
        .join(p2, p2.id == other.c.pid)
        .where(
            p2.category == Product.category,
            or_(other.c.units > mine.c.units,
                and_(other.c.units == mine.c.units, p2.name < Product.name)),
        )
        .scalar_subquery()
    )
    query = (
        select(Product.category, Product.name, mine.c.units)
        .join(mine, mine.c.pid == Product.id)
        .where(better < 3)
        .order_by(Product.category, mine.c.units.desc(), Product.name)
    )
    return [{"category": c, "product": n, "units": int(u)} for c, n, u in session.execute(query)]


def top_customers(session: Session) -> list[dict]:
    totals = (
        select(Order.customer_id.label("cid"), func.count(Order.id).label("n"),
               func.sum(Order.total_cents).label("spent"))
        .where(Order.status.in_(SOLD))
        .group_by(Order.customer_id)
        .subquery()
    )
    query = (
        select(Customer.name, totals.c.n, totals.c.spent)
        .join(totals, totals.c.cid == Customer.id)
        .order_by(totals.c.spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [{"customer": a, "orders": b, "spent_cents": int(c)} for a, b, c in session.execute(query)]


def refunds(session: Session, since) -> list[dict]:
    query = (
        select(Order.id, Order.customer_id, Order.total_cents)
        .where(Order.status == "refunded")
        .where(Order.created_at >= since)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [{"id": i, "customer_id": c, "total_cents": t} for i, c, t in session.execute(query)]


def orders_feed(session: Session, cursor=None):
    query = select(Order.id, Order.customer_id, Order.total_cents, Order.created_at)
    if cursor is not None:
        at, last_id = cursor
        query = query.where(
            Order.created_at <= at,
            or_(Order.created_at < at, and_(Order.created_at == at, Order.id < last_id)),
        )
    found = session.execute(
        query.order_by(Order.created_at.desc(), Order.id.desc()).limit(PAGE + 1)
    ).all()
    page = [{"id": r[0], "customer_id": r[1], "total_cents": r[2]} for r in found[:PAGE]]
    next_cursor = (found[PAGE - 1][3], found[PAGE - 1][0]) if len(found) > PAGE else None
    return page, next_cursor
