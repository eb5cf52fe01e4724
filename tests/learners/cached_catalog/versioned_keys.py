"""Versioned keys everywhere, nothing deleted: one version entry per product, per category
and one for the whole catalog. A write bumps the three that name what it changed; old
pages are never read again and simply expire."""

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
    category_of,
)

PAGE_TTL = 300


def version(cache, name):
    key = f"ver:{name}"
    cache.add(key, 0, timeout=None)  # versions never expire: pages name them
    return cache.get(key)


def bump(cache, name):
    version(cache, name)
    cache.incr(f"ver:{name}")


def fetch(cache, key, build):
    page = cache.get(key)
    if page is not None:
        return page
    with cache.lock(f"build:{key}", timeout=10):
        page = cache.get(key)
        if page is None:
            page = build()
            cache.set(key, page, timeout=PAGE_TTL)
    return page


def product_page(session, cache, product_id):
    key = f"product:{product_id}@{version(cache, f'product:{product_id}')}"
    return fetch(cache, key, lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    key = f"featured@{version(cache, 'catalog')}"
    return fetch(cache, key, lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    key = f"listing:{category_id}:{page}@{version(cache, f'category:{category_id}')}"
    return fetch(cache, key, lambda: build_category_listing(session, category_id, page))


def changed(session, cache, product_id):
    for name in (f"product:{product_id}", f"category:{category_of(session, product_id)}"):
        bump(cache, name)
    bump(cache, "catalog")


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    changed(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    changed(session, cache, product_id)
