"""Correct: every query in text() SQL, a row-value keyset, an opaque "ts|id" cursor.

From a learner's report (the grade before these checks passed it or is noted):
Learner: "Olu", a DBA-turned-developer who distrusts ORMs and writes SQL by hand.

Shape: every query is a raw text() statement run with session.execute(); top_products uses
a WITH ... row_number() OVER (PARTITION BY category ...) query; top_customers is one
GROUP BY ... ORDER BY ... LIMIT 10. Indexes are still declared with Index() on the model
columns (the only way the grader builds them): (status, created_at) for refunds and
(created_at, id) for the feed. The feed is keyset on a row value, and the cursor is an
opaque string "<created_at as stored>|<id>" that is fed straight back into SQL.
`since` is bound with an explicit DateTime type so SQLAlchemy formats it the way it stores
created_at.

EXPECTED verdict: PASS (all outputs identical, every counted check within threshold).
"""

from sqlalchemy import DateTime, Index, bindparam, text

from perfkata.katas.analytics_dashboard.models import Order

PAGE_SIZE = 20

Index("ix_orders_status_created", Order.status, Order.created_at)
Index("ix_orders_created_id", Order.created_at, Order.id)

REVENUE = text(
    """
    SELECT date(created_at) AS day, count(*) AS n, sum(total_cents) AS revenue
    FROM orders
    WHERE status IN ('paid', 'shipped')
    GROUP BY date(created_at)
    ORDER BY day
    """
)

TOP_PRODUCTS = text(
    """
    WITH units AS (
        SELECT ol.product_id, sum(ol.quantity) AS units
        FROM order_lines ol JOIN orders o ON o.id = ol.order_id
        WHERE o.status IN ('paid', 'shipped')
        GROUP BY ol.product_id
    ), ranked AS (
        SELECT p.category, p.name, u.units,
               row_number() OVER (PARTITION BY p.category
                                  ORDER BY u.units DESC, p.name, p.id) AS rn
        FROM products p JOIN units u ON u.product_id = p.id
        WHERE u.units > 0
    )
    SELECT category, name, units FROM ranked WHERE rn <= 3 ORDER BY category, rn
    """
)

TOP_CUSTOMERS = text(
    """
    SELECT c.name, count(o.id) AS n, sum(o.total_cents) AS spent
    FROM customers c JOIN orders o ON o.customer_id = c.id
    WHERE o.status IN ('paid', 'shipped')
    GROUP BY c.id, c.name
    ORDER BY spent DESC, c.name, c.id
    LIMIT 10
    """
)

REFUNDS = text(
    """
    SELECT id, customer_id, total_cents FROM orders
    WHERE status = 'refunded' AND created_at >= :since
    ORDER BY created_at DESC, id DESC
    """
).bindparams(bindparam("since", type_=DateTime()))

FEED_FIRST = text(
    """
    SELECT id, customer_id, total_cents, created_at FROM orders
    ORDER BY created_at DESC, id DESC
    LIMIT :n
    """
)

FEED_AFTER = text(
    """
    SELECT id, customer_id, total_cents, created_at FROM orders
    WHERE (created_at, id) < (:last_ts, :last_id)
    ORDER BY created_at DESC, id DESC
    LIMIT :n
    """
)


def revenue_by_day(session):
    return [
        {"day": str(day), "orders": n, "revenue_cents": rev}
        for day, n, rev in session.execute(REVENUE)
    ]


def top_products(session):
    return [
        {"category": cat, "product": name, "units": units}
        for cat, name, units in session.execute(TOP_PRODUCTS)
    ]


def top_customers(session):
    return [
        {"customer": name, "orders": n, "spent_cents": spent}
        for name, n, spent in session.execute(TOP_CUSTOMERS)
    ]


def refunds(session, since):
    return [
        {"id": i, "customer_id": c, "total_cents": t}
        for i, c, t in session.execute(REFUNDS, {"since": since})
    ]


def orders_feed(session, cursor=None):
    if cursor is None:
        result = session.execute(FEED_FIRST, {"n": PAGE_SIZE + 1}).all()
    else:
        last_ts, last_id = cursor.rsplit("|", 1)
        result = session.execute(
            FEED_AFTER, {"last_ts": last_ts, "last_id": int(last_id), "n": PAGE_SIZE + 1}
        ).all()
    page = result[:PAGE_SIZE]
    rows = [{"id": i, "customer_id": c, "total_cents": t} for i, c, t, _ in page]
    if len(result) > PAGE_SIZE:
        last = page[-1]
        return rows, f"{last[3]}|{last[0]}"
    return rows, None
