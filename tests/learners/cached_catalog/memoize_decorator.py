"""learner: Felix, Python library author; likes decorators and functools-style APIs.
approach: a `memoize(prefix)` decorator for functions of (session, cache, *args): builds the
key from the prefix and the args, guards the miss with cache.lock and a second look, and
exposes `.invalidate(cache, *args)`. Writes invalidate the product page, the featured list
and exactly the one listing page the product sits on (its position in the category by id).
"""

import functools

from sqlalchemy import func, select

from perfkata.katas.cached_catalog.models import Product
from perfkata.katas.cached_catalog.pages import (
    PAGE_SIZE,
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
    category_of,
)

_MISSING = object()


def memoize(prefix, ttl=240):
    def decorate(fn):
        def key_for(*args):
            return ":".join([prefix, *map(str, args)])

        @functools.wraps(fn)
        def wrapper(session, cache, *args):
            key = key_for(*args)
            hit = cache.get(key, _MISSING)
            if hit is not _MISSING:
                return hit
            with cache.lock(key + "~lock", timeout=15):
                hit = cache.get(key, _MISSING)
                if hit is _MISSING:
                    hit = fn(session, cache, *args)
                    cache.set(key, hit, timeout=ttl)
            return hit

        def invalidate(cache, *args):
            cache.delete(key_for(*args))

        wrapper.key_for = key_for
        wrapper.invalidate = invalidate
        return wrapper

    return decorate


@memoize("product")
def product_page(session, cache, product_id):
    return build_product_page(session, product_id)


@memoize("featured")
def featured_products(session, cache):
    return build_featured(session)


@memoize("listing")
def category_listing(session, cache, category_id, page):
    return build_category_listing(session, category_id, page)


def _listing_page_of(session, category_id, product_id):
    """Listings are ordered by id, so the page is (products before this one) // PAGE_SIZE."""
    before = session.execute(
        select(func.count())
        .select_from(Product)
        .where(Product.category_id == category_id, Product.id < product_id)
    ).scalar_one()
    return before // PAGE_SIZE


def _forget(session, cache, product_id):
    category_id = category_of(session, product_id)
    product_page.invalidate(cache, product_id)
    featured_products.invalidate(cache)
    # Only this product's own row changed, and rows never move between pages.
    category_listing.invalidate(cache, category_id, _listing_page_of(session, category_id, product_id))


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    _forget(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    _forget(session, cache, product_id)
