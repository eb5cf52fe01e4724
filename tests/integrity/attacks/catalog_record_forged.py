"""Forges the cache metrics a kata records, by patching RunEnv.record at import.

attack: cached-catalog's workload and scenarios hand their counters (statements per
    read, hit ratio, stampede builds, TTL violations, new keys) to RunEnv.record; the
    solution replaces that method on perfkata's class so every counter comes out ideal.
    The pages themselves are the starter's: no cache at all, every read rebuilt.
kata: cached-catalog
backend: sqlite
expect: tampering detected
"""

from perfkata.katas.base import RunEnv
from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    build_product_page,
)

IDEAL = {
    "statements_per_read": 0.0,
    "hit_ratio": 1.0,
    "stampede_builds": 1.0,
    "ttl_violations": 0,
    "stale_reads": 0,
    "new_keys_per_100_rereads": 0.0,
}
_record = RunEnv.record


def _ideal_record(self, name, value):
    _record(self, name, IDEAL.get(name, value))


RunEnv.record = _ideal_record


def product_page(session, cache, product_id):
    return build_product_page(session, product_id)


def featured_products(session, cache):
    return build_featured(session)


def category_listing(session, cache, category_id, page):
    return build_category_listing(session, category_id, page)


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
