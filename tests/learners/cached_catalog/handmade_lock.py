"""A hand-made lock: cache.add() of a marker key is atomic, so one request builds while
the others poll for the page. Writes delete the product page, featured, and every
listing page of the category (how many there are comes from the database)."""

import math
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
    category_of,
)

TTL = 120
WAIT_STEP = 0.005


def cached_page(cache, key, build):
    found = cache.get(key)
    while found is None:
        if cache.add(f"building:{key}", 1, timeout=10):
            try:
                found = cache.get(key)  # built while we polled?
                if found is None:
                    found = build()
                    cache.set(key, found, TTL)
            finally:
                cache.delete(f"building:{key}")
        else:
            time.sleep(WAIT_STEP)
            found = cache.get(key)
    return found


def product_page(session, cache, product_id):
    return cached_page(cache, f"p/{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return cached_page(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return cached_page(
        cache,
        f"c/{category_id}/{page}",
        lambda: build_category_listing(session, category_id, page),
    )


def listing_keys(session, category_id):
    count = session.scalar(select(func.count()).where(Product.category_id == category_id))
    return [f"c/{category_id}/{page}" for page in range(max(1, math.ceil(count / PAGE_SIZE)))]


def invalidate(session, cache, product_id):
    category_id = category_of(session, product_id)
    cache.delete_many([f"p/{product_id}", "featured", *listing_keys(session, category_id)])


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    invalidate(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    invalidate(session, cache, product_id)
