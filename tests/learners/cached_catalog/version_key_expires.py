"""learner: Petra, versioned listing keys "as the brief suggests" — everything with a TTL.
mistake: the per-category version counter is created with cache.add(key, 1) and the
default timeout (300 s), like every other entry. When the counter expires, the next read
re-creates it at 1 — and listing pages cached under an old version 1 (written less than
300 s ago, before an incr) come back to life: stale prices and scores after a write.
(Counters must outlive the pages they version: timeout=None, or re-create them above
any version still cached.)
expected: "stale reads" fails if a version counter expires between a write and a read
whose old-version page is still cached; "stale after 301 s" may also catch it. A grader
whose clock never passes 300 s between writes will false-pass it.
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
    key = f"catver:{category_id}"
    cache.add(key, 1)  # default timeout: 300 s
    return cache.get(key, 1)


def _invalidate(session, cache, product_id):
    category_id = category_of(session, product_id)
    cache.delete_many([f"product:{product_id}", "featured"])
    _version(cache, category_id)
    try:
        cache.incr(f"catver:{category_id}")
    except ValueError:  # expired between add and incr
        cache.add(f"catver:{category_id}", 2)


def product_page(session, cache, product_id):
    return _cached(cache, f"product:{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return _cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    key = f"listing:{category_id}:v{_version(cache, category_id)}:{page}"
    return _cached(cache, key, lambda: build_category_listing(session, category_id, page))


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    _invalidate(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    _invalidate(session, cache, product_id)
