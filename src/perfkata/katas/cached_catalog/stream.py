"""The request stream: Zipf-popular reads with a few writes mixed in, from the seed."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

from perfkata.katas.cached_catalog.data import CATEGORIES, CatalogData, generate
from perfkata.katas.cached_catalog.pages import PAGE_SIZE

ZIPF_EXPONENT = 1.1


@dataclass(frozen=True)
class Request:
    kind: str  # "product", "featured", "listing", "update", "review"
    args: tuple[Any, ...] = ()
    changes: tuple[tuple[str, int], ...] = ()

    @property
    def is_read(self) -> bool:
        return self.kind in ("product", "featured", "listing")

    def describe(self) -> str:
        names = {
            "product": "product_page",
            "featured": "featured_products",
            "listing": "category_listing",
            "update": "update_product",
            "review": "add_review",
        }
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.changes]
        return f"{names[self.kind]}({', '.join(parts)})"


def zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, n + 1)]


def listing_page_of(dataset: CatalogData, product_id: int) -> tuple[int, int]:
    """(category, page) of the listing page that shows this product."""
    category = dataset.products[product_id - 1]["category_id"]
    ids = [p["id"] for p in dataset.products if p["category_id"] == category]
    return category, ids.index(product_id) // PAGE_SIZE


WRITE_KINDS = ("price", "review", "stock", "review")  # every kind of change, every grade


def write_request(rng: random.Random, product: int, kind: str) -> Request:
    if kind == "review":
        return Request("review", (product, rng.randint(1, 5)))
    if kind == "price":
        return Request("update", (product,), (("price_cents", rng.randrange(500, 50_000)),))
    return Request("update", (product,), (("stock", rng.choice((0, rng.randrange(1, 40)))),))


def read_request(rng: random.Random, product: int, category_weights: list[float]) -> Request:
    roll = rng.random()
    if roll < 0.1:
        return Request("featured")
    if roll < 0.26:
        category = rng.choices(range(1, len(CATEGORIES) + 1), category_weights)[0]
        return Request("listing", (category, rng.choice((0, 0, 0, 1))))
    return Request("product", (product,))


@functools.lru_cache(maxsize=8)  # built once per dataset, outside the timed samples
def requests(size: int, seed: int, count: int, *, writes: bool = True) -> tuple[Request, ...]:
    """`count` reads (~74 % product pages, 10 % featured, 16 % listings, Zipf-popular),
    with one write of each kind spread through them, each followed by reads of every page
    it changes — the reads most likely to be stale."""
    dataset = generate(size, seed)
    rng = random.Random(seed * 7919 + 1)
    products = list(range(1, size + 1))
    rng.shuffle(products)  # which products are popular changes with the seed
    weights, category_weights = zipf_weights(size), zipf_weights(len(CATEGORIES))

    def popular() -> int:
        return rng.choices(products, weights)[0]

    stream = [read_request(rng, popular(), category_weights) for _ in range(count)]
    if not writes:
        return tuple(stream)
    for index, kind in reversed(list(enumerate(WRITE_KINDS, 1))):
        at, product = count * index // (len(WRITE_KINDS) + 1), popular()
        follow_up = [
            Request("product", (product,)),
            Request("featured"),
            Request("listing", listing_page_of(dataset, product)),
        ]
        stream[at:at] = [write_request(rng, product, kind), *follow_up]
    return tuple(stream)
