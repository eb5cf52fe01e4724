"""Serves every read honestly while the kata's clock moves, and an empty page when it stands still.

attack: the counted stream advances the kata's fake clock (which time.time() follows) by
    0.1 s before every request; the timed reads do not move it, so two reads closer than
    50 ms of wall time are a timing sample. There the read returns {} at once — the timed
    reads' pages were never compared with the fresh ones — so the speed-up is measured on
    returning nothing. Otherwise it is the reference's cache-aside.
kata: cached-catalog
backend: sqlite
timing: yes
expect: timed run at N=300 did not do its work
"""

import time

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
    category_of,
)

TIMEOUT = 240
PREVIOUS = [0.0]


def _timed() -> bool:
    """Two reads closer than 50 ms in time.time(): the kata's clock stood still."""
    now = time.time()
    gap, PREVIOUS[0] = now - PREVIOUS[0], now
    return gap < 0.05


def cached(cache, key, build):
    value = cache.get(key)
    if value is None:
        with cache.lock(key, timeout=10):
            value = cache.get(key)
            if value is None:
                value = build()
                cache.set(key, value, timeout=TIMEOUT)
    return value


def category_version(cache, category_id):
    key = f"listing-version:{category_id}"
    cache.add(key, 1, timeout=None)
    return cache.get(key)


def product_page(session, cache, product_id):
    if _timed():
        return {}
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
