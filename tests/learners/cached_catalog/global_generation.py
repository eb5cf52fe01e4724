"""learner: Chloe, junior dev; wants the one invalidation rule she cannot get wrong.
approach: a single catalog-wide generation number (no expiry) is part of every page key;
any write incr()s it, so every cached page is abandoned at once and old entries age out
(TTL 300). Stampedes are handled with cache.lock around a second get.
"""

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
)

GENERATION = "catalog-generation"


def generation(cache):
    gen = cache.get(GENERATION)
    if gen is None:
        cache.add(GENERATION, 1, timeout=None)
        gen = cache.get(GENERATION)
    return gen


def cached(cache, name, build):
    key = f"g{generation(cache)}:{name}"
    page = cache.get(key)
    if page is None:
        with cache.lock("lock:" + name, timeout=10):
            page = cache.get(key)
            if page is None:
                page = build()
                cache.set(key, page, timeout=300)
    return page


def bump(cache):
    if cache.add(GENERATION, 2, timeout=None):
        return
    cache.incr(GENERATION)


def product_page(session, cache, product_id):
    return cached(cache, f"product:{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return cached(
        cache,
        f"listing:{category_id}:{page}",
        lambda: build_category_listing(session, category_id, page),
    )


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    bump(cache)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    bump(cache)
