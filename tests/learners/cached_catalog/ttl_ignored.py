"""Correct invalidation and locking, but entries never expire."""

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
    category_of,
)

TIMEOUT = None  # never expires


def cached(cache, key, build):
    value = cache.get(key)
    if value is None:
        with cache.lock(key, timeout=10):
            value = cache.get(key)  # filled while we waited?
            if value is None:
                value = build()
                cache.set(key, value, timeout=TIMEOUT)
    return value


def category_version(cache, category_id):
    key = f"listing-version:{category_id}"
    cache.add(key, 1, timeout=None)  # versions live forever; the pages they name expire
    return cache.get(key)


def product_page(session, cache, product_id):
    return cached(cache, f"product:{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    version = category_version(cache, category_id)
    key = f"listing:{category_id}:v{version}:{page}"
    return cached(cache, key, lambda: build_category_listing(session, category_id, page))


def forget(session, cache, product_id):
    category_version(cache, category_of(session, product_id))
    cache.incr(f"listing-version:{category_of(session, product_id)}")
    cache.delete_many([f"product:{product_id}", "featured"])


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    forget(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    forget(session, cache, product_id)
