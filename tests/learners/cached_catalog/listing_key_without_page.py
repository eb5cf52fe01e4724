"""Invalidates carefully, but keys a listing by its category alone: page 1 is served
from page 0's entry."""

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
    category_of,
)


def remember(cache, key, build):
    value = cache.get(key)
    if value is None:
        with cache.lock(key, timeout=10):
            value = cache.get(key)
            if value is None:
                value = build()
                cache.set(key, value, timeout=180)
    return value


def product_page(session, cache, product_id):
    return remember(cache, f"product:{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return remember(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return remember(
        cache, f"listing:{category_id}", lambda: build_category_listing(session, category_id, page)
    )


def forget(session, cache, product_id):
    category = category_of(session, product_id)
    cache.delete_many([f"product:{product_id}", "featured", f"listing:{category}"])


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    forget(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    forget(session, cache, product_id)
