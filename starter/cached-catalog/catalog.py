"""The shop's pages. Correct — and every request rebuilds its page from scratch.

`perfkata grade` calls these with a fresh SQLAlchemy session per request and a `cache`
(Django's cache API plus cache.lock). The starter ignores the cache entirely.
"""

from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
)


def product_page(session, cache, product_id):
    # TODO: cache this page; most visitors look at the same few products.
    return build_product_page(session, product_id)


def featured_products(session, cache):
    # TODO: cache the featured list.
    return build_featured(session)


def category_listing(session, cache, category_id, page):
    # TODO: cache each listing page.
    return build_category_listing(session, category_id, page)


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    # TODO: once reads are cached, a write must make them fresh again.


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    # TODO: a new review changes the product's rating everywhere it is shown.
