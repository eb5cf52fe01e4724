"""Caches the Product row itself next to the pages, to key pages by category name — an
ORM object read back from the cache belongs to no session."""

from perfkata.katas.cached_catalog.models import Product
from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
)

TTL = 240


def product_record(session, cache, product_id):
    record = cache.get(f"record:{product_id}")
    if record is None:
        record = session.get(Product, product_id)
        cache.set(f"record:{product_id}", record, timeout=TTL)
    return record


def cached(cache, key, build):
    value = cache.get(key)
    if value is None:
        with cache.lock(key, timeout=10):
            value = cache.get(key)
            if value is None:
                value = build()
                cache.set(key, value, timeout=TTL)
    return value


def product_page(session, cache, product_id):
    record = product_record(session, cache, product_id)
    key = f"product:{record.category.name}:{product_id}"
    return cached(cache, key, lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return cached(
        cache,
        f"listing:{category_id}:{page}",
        lambda: build_category_listing(session, category_id, page),
    )


def forget(session, cache, product_id):
    record = session.get(Product, product_id)
    cache.delete_many(
        [f"product:{record.category.name}:{product_id}", "featured"]
        + [f"listing:{record.category_id}:{page}" for page in range(10)]
    )


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    forget(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    forget(session, cache, product_id)
