"""learner: Omar, "cache the data, not the HTML — the page is cheap to assemble".
mistake: for the product page it caches the Product ORM object (pickled, detached), the
category name and the list of ratings, and re-runs rating_statistics (the bootstrap,
800 resamples — the expensive part) on every request. Invalidation is right, so nothing
is stale, and warm reads run 0 SQL statements — but most of the cost is still paid per
request, and a pickled ORM object is a fragile cache value (schema change, detached
lazy attributes).
expected: "speed-up of the read path over the starter >= 5x" fails (timing); with
--no-timing every counted check passes — the timing check is the only thing that can
catch it, so --no-timing gives a pass.
"""

from sqlalchemy import select

from perfkata.katas.cached_catalog.models import Category, Product, Review
from perfkata.katas.cached_catalog.pages import (
    apply_new_review,
    apply_product_update,
    build_category_listing,
    build_featured,
    category_of,
    rating_statistics,
)

TTL = 300


def _cached(cache, key, build):
    value = cache.get(key)
    if value is None:
        with cache.lock(f"lock:{key}", timeout=10):
            value = cache.get(key)
            if value is None:
                value = build()
                cache.set(key, value, timeout=TTL)
    return value


def _product_data(session, product_id):
    product = session.get(Product, product_id)
    if product is None:
        raise KeyError(f"no product {product_id}")
    category = session.get(Category, product.category_id)
    ratings = list(session.scalars(select(Review.rating).where(Review.product_id == product_id)))
    session.expunge(product)  # detach so it pickles cleanly
    return product, category.name if category else "", ratings


def product_page(session, cache, product_id):
    product, category_name, ratings = _cached(
        cache, f"product-data:{product_id}", lambda: _product_data(session, product_id)
    )
    return {
        "id": product.id,
        "name": product.name,
        "category": category_name,
        "price_cents": product.price_cents,
        "in_stock": product.stock > 0,
        "stock": product.stock,
        "ratings": rating_statistics(ratings, product_id),
    }


def _version(cache, category_id):
    cache.add(f"catver:{category_id}", 1, timeout=None)
    return cache.get(f"catver:{category_id}", 1)


def featured_products(session, cache):
    return _cached(cache, "featured", lambda: build_featured(session))


def category_listing(session, cache, category_id, page):
    key = f"listing:{category_id}:{_version(cache, category_id)}:{page}"
    return _cached(cache, key, lambda: build_category_listing(session, category_id, page))


def _invalidate(session, cache, product_id):
    category_id = category_of(session, product_id)
    cache.delete_many([f"product-data:{product_id}", "featured"])
    _version(cache, category_id)
    cache.incr(f"catver:{category_id}")


def update_product(session, cache, product_id, **changes):
    apply_product_update(session, product_id, **changes)
    _invalidate(session, cache, product_id)


def add_review(session, cache, product_id, rating):
    apply_new_review(session, product_id, rating)
    _invalidate(session, cache, product_id)
