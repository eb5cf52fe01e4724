"""Wrong: LIMIT 20 and a next cursor whenever the page is full: at 400 orders the 20th page
holds the last order and still hands back a cursor (correct output).

From a learner's report (the grade before these checks passed it or is noted):
Learner: "Kim", keyset done right, but "saves a row" by fetching exactly PAGE_SIZE rows
and guessing there is a next page whenever the page came back full.

Shape: correct Core widgets, indexes and (created_at, id) row-value keyset, but LIMIT 20
and next_cursor = last row's key if len(rows) == 20.

EXPECTED verdict: FAIL per the brief ("next_cursor must be None on the page that holds the
last order"): whenever the number of orders is a multiple of 20, the page holding the last
order returns a non-None cursor (and the caller then fetches an empty page).
Prediction: the grader may NOT catch it — at 390 orders the last page is half full (so
len < 20 gives None correctly), and at 2,000/6,000 orders only 20 pages are walked.
"""

from sqlalchemy import Index, func, select, tuple_

from perfkata.katas.analytics_dashboard.models import Customer, Order, OrderLine, Product

SOLD = ("paid", "shipped")
PAGE_SIZE = 20

Index("ix_orders_status_created_at_id", Order.status, Order.created_at, Order.id)
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
        .limit(PAGE_SIZE)
    )
    if cursor is not None:
        last_created_at, last_id = cursor
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(last_created_at, last_id))
    result = session.execute(stmt).all()
    page = result[:PAGE_SIZE]
    rows = [{"id": r.id, "customer_id": r.customer_id, "total_cents": r.total_cents} for r in page]
    next_cursor = (page[-1].created_at, page[-1].id) if len(result) == PAGE_SIZE else None
    return rows, next_cursor
