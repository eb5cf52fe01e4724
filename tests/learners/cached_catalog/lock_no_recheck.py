"""learner: Kim, added the lock from hint 4 but not the re-check.
mistake: on a miss, takes cache.lock(key) and builds — without a second cache.get inside
the lock. The 16 stampeding requests now queue on the lock and each builds in turn:
still 16 builds, just serialised (slower than no lock at all).
expected: "builds during a 16-request stampede <= 2" fails (~16); a grader that counts
concurrent builds rather than total builds would miss it (a false pass).
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
            value = build()  # "the lock makes it safe"
            cache.set(key, value, timeout=TTL)
    return value


def _version(cache, category_id):
    cache.add(f"catver:{category_id}", 1, timeout=None)
    return cache.get(f"catver:{category_id}", 1)


def _invalidate(session, cache, product_id):
    category_id = category_of(session, product_id)
    cache.delete_many([f"product:{product_id}", "featured"])
    _version(cache, category_id)
    cache.incr(f"catver:{category_id}")


def product_page(session, cache, product_id):
    return _cached(cache, f"product:{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return _cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    key = f"listing:{category_id}:{_version(cache, category_id)}:{page}"
    return _cached(cache, key, lambda: build_category_listing(session, category_id, page))


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    _invalidate(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    _invalidate(session, cache, product_id)
