"""learner: Bogdan, old PHP/memcached hand; never heard of cache.lock, uses add() as a mutex.
approach: per-page keys; on a miss, `cache.add(key + ':building', ...)` elects one builder
and everyone else polls the cache briefly. Writes delete the product page, the featured
list and every listing page of the category (pages counted from the database).
"""

import time

from sqlalchemy import func, select

from perfkata.katas.cached_catalog.models import Product
from perfkata.katas.cached_catalog.pages import (
    PAGE_SIZE,
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
)

EXPIRES = 290
POLL = 0.01
WAIT_AT_MOST = 10.0


def fetch(cache, key, build):
    value = cache.get(key)
    if value is not None:
        return value
    flag = key + ":building"
    give_up_at = time.monotonic() + WAIT_AT_MOST
    while True:
        if cache.add(flag, 1, 30):
            try:
                value = cache.get(key)  # filled between our miss and our add?
                if value is None:
                    value = build()
                    cache.set(key, value, EXPIRES)
                return value
            finally:
                cache.delete(flag)
        time.sleep(POLL)
        value = cache.get(key)
        if value is not None:
            return value
        if time.monotonic() > give_up_at:
            return build()  # the builder died; serve fresh, uncached


def product_page(session, cache, product_id):
    return fetch(cache, "p/%d" % product_id, lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return fetch(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return fetch(
        cache,
        "c/%d/%d" % (category_id, page),
        lambda: build_category_listing(session, category_id, page),
    )


def forget(session, cache, product_id):
    category_id, = session.execute(
        select(Product.category_id).where(Product.id == product_id)
    ).one()
    n = session.execute(
        select(func.count(Product.id)).where(Product.category_id == category_id)
    ).scalar()
    keys = ["p/%d" % product_id, "featured"]
    page = 0
    while page * PAGE_SIZE < n:
        keys.append("c/%d/%d" % (category_id, page))
        page += 1
    for key in keys:
        cache.delete(key)


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    forget(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    forget(session, cache, product_id)
