"""learner: Piotr, backend dev who distrusts cache-server expiry; keeps his own timestamps.
approach: plain dicts {"expires_at": time.time() + 300, "page": ...} stored with no cache
timeout; a reader treats an expired envelope as a miss (rebuild under cache.lock). Writes
delete the product page, the featured list and the category's listing pages.
(Real-time correct: nothing is ever served more than 300 s after it was built.)
"""

import time

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

MAX_AGE = 300


def _fresh(envelope):
    return envelope is not None and envelope["expires_at"] > time.time()


def _page(cache, key, build):
    envelope = cache.get(key)
    if not _fresh(envelope):
        with cache.lock(key + ".lock", timeout=30):
            envelope = cache.get(key)
            if not _fresh(envelope):
                envelope = {"expires_at": time.time() + MAX_AGE, "page": build()}
                cache.set(key, envelope, timeout=None)
    return envelope["page"]


def product_page(session, cache, product_id):
    return _page(cache, f"product.{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return _page(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return _page(
        cache,
        f"listing.{category_id}.{page}",
        lambda: build_category_listing(session, category_id, page),
    )


def _drop(session, cache, product_id):
    category_id = category_of(session, product_id)
    n = session.scalar(select(func.count()).where(Product.category_id == category_id))
    cache.delete_many(
        [f"product.{product_id}", "featured"]
        + [f"listing.{category_id}.{p}" for p in range((n + PAGE_SIZE - 1) // PAGE_SIZE)]
    )


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    _drop(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    _drop(session, cache, product_id)
