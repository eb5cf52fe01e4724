"""learner: Ivan, "a review belongs to a product, so it invalidates the product page".
mistake: price/stock updates invalidate product page, featured list and the category's
listing pages (versioned keys) — but add_review deletes only the product page. The
featured list and the listing pages keep the old Bayesian score (and the featured
ranking may change order).
expected: "stale reads (gate)" fails on featured/listing after a review: "score" differs.
"""

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
    category_of,
)

TTL = 300


def _cached(cache, key, build):
    value = cache.get(key)
    if value is None:
        with cache.lock(f"lock:{key}", timeout=10):
            value = cache.get(key)
            if value is None:
                value = build()
                cache.set(key, value, timeout=TTL)
    return value


def _version(cache, category_id):
    cache.add(f"catver:{category_id}", 1, timeout=None)
    return cache.get(f"catver:{category_id}", 1)


def product_page(session, cache, product_id):
    return _cached(cache, f"product:{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return _cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    key = f"listing:{category_id}:{_version(cache, category_id)}:{page}"
    return _cached(cache, key, lambda: build_category_listing(session, category_id, page))


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    category_id = category_of(session, product_id)
    cache.delete_many([f"product:{product_id}", "featured"])
    _version(cache, category_id)
    cache.incr(f"catver:{category_id}")


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    cache.delete(f"product:{product_id}")  # the rating shows elsewhere too — forgotten
