"""A small PageCache class: get-or-build under the cache's lock, JSON text in the cache,
one generation counter per category for its listing pages."""

import json

from perfkata.katas.cached_catalog import pages


class PageCache:
    ttl = 200

    def __init__(self, cache):
        self.cache = cache

    def get(self, key, build):
        raw = self.cache.get(key)
        if raw is None:
            with self.cache.lock(key, timeout=10):
                raw = self.cache.get(key)
                if raw is None:
                    raw = json.dumps(build())
                    self.cache.set(key, raw, timeout=self.ttl)
        return json.loads(raw)

    def generation(self, category_id):
        key = f"gen-{category_id}"
        value = self.cache.get(key)
        if value is None:
            self.cache.add(key, 0, timeout=None)
            value = self.cache.get(key)
        return value

    def forget(self, session, product_id):
        category_id = pages.category_of(session, product_id)
        self.generation(category_id)
        self.cache.incr(f"gen-{category_id}")
        for key in (f"product-{product_id}", "featured"):
            self.cache.delete(key)


def product_page(session, cache, product_id):
    return PageCache(cache).get(
        f"product-{product_id}", lambda: pages.build_product_page(session, product_id)
    )


def featured_products(session, cache):
    return PageCache(cache).get("featured", lambda: pages.build_featured(session))


def category_listing(session, cache, category_id, page):
    pc = PageCache(cache)
    key = f"listing-{category_id}-g{pc.generation(category_id)}-{page}"
    return pc.get(key, lambda: pages.build_category_listing(session, category_id, page))


def update_product(session, cache, product_id, **changes):
    pages.apply_product_update(session, product_id, **changes)
    PageCache(cache).forget(session, product_id)


def add_review(session, cache, product_id, rating):
    pages.apply_new_review(session, product_id, rating)
    PageCache(cache).forget(session, product_id)
