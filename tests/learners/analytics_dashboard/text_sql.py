"""Correct: hand-written SQL through text(); the cursor is a string "<created_at>|<id>"."""

from sqlalchemy import DateTime, Index, bindparam, text
from sqlalchemy.orm import Session

from perfkata.katas.analytics_dashboard.models import Order

Index("refund_lookup", Order.status, Order.created_at, Order.id)
Index("feed_walk", Order.created_at, Order.id)

REVENUE = text("""
    SELECT date(created_at) AS day, count(*) AS n, sum(total_cents) AS revenue
    FROM orders WHERE status IN ('paid', 'shipped')
    GROUP BY date(created_at) ORDER BY day
""")

TOP_PRODUCTS = text("""
    SELECT category, name, units FROM (
        SELECT p.category, p.name, t.units,
               row_number() OVER (PARTITION BY p.category ORDER BY t.units DESC, p.name) AS rn
        FROM products p
        JOIN (SELECT l.product_id, sum(l.quantity) AS units
              FROM order_lines l JOIN orders o ON o.id = l.order_id
              WHERE o.status IN ('paid', 'shipped')
              GROUP BY l.product_id) t ON t.product_id = p.id
    ) ranked
    WHERE rn <= 3
    ORDER BY category, rn
""")

TOP_CUSTOMERS = text("""
    SELECT c.name, count(o.id) AS n, sum(o.total_cents) AS spent
    FROM customers c JOIN orders o ON o.customer_id = c.id
    WHERE o.status IN ('paid', 'shipped')
    GROUP BY c.id, c.name
    ORDER BY spent DESC, c.name, c.id
    LIMIT 10
""")

# typed, so SQLite compares `since` in the text format SQLAlchemy stores datetimes in
REFUNDS = text("""
    SELECT id, customer_id, total_cents FROM orders
    WHERE status = 'refunded' AND created_at >= :since
    ORDER BY created_at DESC, id DESC
""").bindparams(bindparam("since", type_=DateTime()))

FIRST_PAGE = text("""
    SELECT id, customer_id, total_cents, created_at FROM orders
    ORDER BY created_at DESC, id DESC LIMIT 21
""")

NEXT_PAGE = text("""
    SELECT id, customer_id, total_cents, created_at FROM orders
    WHERE (created_at, id) < (:at, :id)
    ORDER BY created_at DESC, id DESC LIMIT 21
""")


def revenue_by_day(session: Session):
    return [
        {"day": str(day), "orders": n, "revenue_cents": int(revenue)}
        for day, n, revenue in session.execute(REVENUE)
    ]


def top_products(session: Session):
    return [
        {"category": category, "product": name, "units": int(units)}
        for category, name, units in session.execute(TOP_PRODUCTS)
    ]


def top_customers(session: Session):
    return [
        {"customer": name, "orders": n, "spent_cents": int(spent)}
        for name, n, spent in session.execute(TOP_CUSTOMERS)
    ]


def refunds(session: Session, since):
    return [
        {"id": i, "customer_id": c, "total_cents": t}
        for i, c, t in session.execute(REFUNDS, {"since": since})
    ]


def orders_feed(session: Session, cursor=None):
    if cursor is None:
        found = session.execute(FIRST_PAGE).all()
    else:
        at, _, last = cursor.rpartition("|")
        found = session.execute(NEXT_PAGE, {"at": at, "id": int(last)}).all()
    rows = [{"id": r.id, "customer_id": r.customer_id, "total_cents": r.total_cents} for r in found[:20]]
    if len(found) <= 20:
        return rows, None
    return rows, f"{found[19].created_at}|{found[19].id}"
