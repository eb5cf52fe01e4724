"""learner: Ines, SRE; caches plain dicts wrapped in an envelope with their build time.
approach: each entry is {"built": <time>, "page": ...} set with a hard cache timeout of
300 s; on top of that a soft age limit (120 s) makes a reader rebuild early. Misses and
too-old entries rebuild under cache.lock. Writes delete the product page, the featured
list and the category's listing pages (pages counted from the database).
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

HARD_TTL = 300
SOFT_TTL = 120


def _usable(entry):
    return entry is not None and time.time() - entry["built"] < SOFT_TTL


def _serve(cache, key, build):
    entry = cache.get(key)
    if _usable(entry):
        return entry["page"]
    with cache.lock("mutex/" + key, timeout=30):
        entry = cache.get(key)
        if not _usable(entry):
            entry = {"built": time.time(), "page": build()}
            cache.set(key, entry, timeout=HARD_TTL)
    return entry["page"]


def product_page(session, cache, product_id):
    return _serve(cache, f"product/{product_id}", lambda: build_product_page(session, product_id))


def featured_products(session, cache):
    return _serve(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    return _serve(
        cache,
        f"listing/{category_id}/{page}",
        lambda: build_category_listing(session, category_id, page),
    )


def _stale_keys(session, product_id):
    category_id = category_of(session, product_id)
    count = session.scalar(
        select(func.count()).select_from(Product).where(Product.category_id == category_id)
    )
    yield f"product/{product_id}"
    yield "featured"
    for page in range(-(-count // PAGE_SIZE)):
        yield f"listing/{category_id}/{page}"


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    cache.delete_many(list(_stale_keys(session, product_id)))


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    cache.delete_many(list(_stale_keys(session, product_id)))
