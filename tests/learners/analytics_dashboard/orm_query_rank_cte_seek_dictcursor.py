"""Correct: session.query(), a CTE ranked with rank(), DESC indexes, the seek as
created_at <= :c AND (created_at < :c OR id < :i), a dict cursor holding an ISO string.

From a learner's report (the grade before these checks passed it or is noted):
Learner: "Marcus", has used SQLAlchemy since 1.3 and still reaches for session.query().

Shape: legacy ORM Query API (session.query(Col, func...)) returning plain rows, never
entities; top_products uses a CTE of per-product units and rank() OVER (PARTITION BY
category ORDER BY units DESC, name) filtered to rank <= 3; top_customers aggregates orders
in a subquery then joins Customer. Indexes declared DESC: (status, created_at DESC, id DESC)
and (created_at DESC, id DESC). Feed keyset written without row values, as the
"created_at <= :c AND (created_at < :c OR id < :i)" seek predicate; the cursor is a JSON-able
dict {"created_at": iso string, "id": int}.

EXPECTED verdict: PASS (all outputs identical, every counted check within threshold).
"""

from datetime import datetime

from sqlalchemy import Index, and_, func, or_

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

SOLD = ("paid", "shipped")
PAGE_SIZE = 20

Index("ix_orders_status_created_desc", Order.status, Order.created_at.desc(), Order.id.desc())
Index("ix_orders_created_desc_id_desc", Order.created_at.desc(), Order.id.desc())


def revenue_by_day(session):
    day = func.date(Order.created_at).label("day")
    q = (
        session.query(day, func.count(Order.id).label("n"), func.sum(Order.total_cents).label("rev"))
        .filter(Order.status.in_(SOLD))
        .group_by(day)
        .order_by(day)
    )
    return [{"day": str(r.day), "orders": r.n, "revenue_cents": r.rev} for r in q]


def top_products(session):
    units = (
        session.query(
            OrderLine.product_id.label("product_id"),
            func.sum(OrderLine.quantity).label("units"),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .filter(Order.status.in_(SOLD))
        .group_by(OrderLine.product_id)
        .cte("units")
    )
    ranked = (
        session.query(
            Product.category.label("category"),
            Product.name.label("name"),
            units.c.units.label("units"),
            func.rank()
            .over(
                partition_by=Product.category,
                order_by=(units.c.units.desc(), Product.name, Product.id),
            )
            .label("pos"),
        )
        .join(units, units.c.product_id == Product.id)
        .filter(units.c.units > 0)
        .subquery()
    )
    q = (
        session.query(ranked.c.category, ranked.c.name, ranked.c.units)
        .filter(ranked.c.pos <= 3)
        .order_by(ranked.c.category, ranked.c.pos)
    )
    return [{"category": c, "product": n, "units": u} for c, n, u in q]


def top_customers(session):
    per_customer = (
        session.query(
            Order.customer_id.label("cid"),
            func.count().label("n"),
            func.sum(Order.total_cents).label("spent"),
        )
        .filter(Order.status.in_(SOLD))
        .group_by(Order.customer_id)
        .subquery()
    )
    q = (
        session.query(Customer.name, per_customer.c.n, per_customer.c.spent)
        .join(per_customer, per_customer.c.cid == Customer.id)
        .order_by(per_customer.c.spent.desc(), Customer.name, Customer.id)
        .limit(10)
    )
    return [{"customer": name, "orders": n, "spent_cents": s} for name, n, s in q]


def refunds(session, since):
    q = (
        session.query(Order.id, Order.customer_id, Order.total_cents)
        .filter(Order.status == "refunded")
        .filter(Order.created_at >= since)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    return [{"id": i, "customer_id": c, "total_cents": t} for i, c, t in q]


def orders_feed(session, cursor=None):
    q = session.query(Order.id, Order.customer_id, Order.total_cents, Order.created_at)
    if cursor:
        ts = datetime.fromisoformat(cursor["created_at"])
        q = q.filter(
            Order.created_at <= ts,
            or_(Order.created_at < ts, and_(Order.created_at == ts, Order.id < cursor["id"])),
        )
    got = q.order_by(Order.created_at.desc(), Order.id.desc()).limit(PAGE_SIZE + 1).all()
    rows = [{"id": r.id, "customer_id": r.customer_id, "total_cents": r.total_cents} for r in got[:PAGE_SIZE]]
    if len(got) <= PAGE_SIZE:
        return rows, None
    last = got[PAGE_SIZE - 1]
    return rows, {"created_at": last.created_at.isoformat(), "id": last.id}
