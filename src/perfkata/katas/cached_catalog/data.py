"""The catalog dataset, generated from (size, seed): `size` products in eight categories
with a few reviews each."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from perfkata.katas.cached_catalog.models import Category, Product, Review

CATEGORIES = ("Keyboards", "Mice", "Monitors", "Cables", "Chairs", "Desks", "Lamps", "Headsets")
ADJECTIVES = ("Quiet", "Swift", "Sturdy", "Compact", "Ergonomic", "Wireless", "Classic", "Pro")
START_TIME = 1_800_000_000.0


@dataclass(frozen=True)
class CatalogData:
    seed: int
    categories: list[dict[str, Any]]
    products: list[dict[str, Any]]
    reviews: list[dict[str, Any]]


def generate(size: int, seed: int) -> CatalogData:
    rng = random.Random(seed)
    categories = [{"id": i, "name": name} for i, name in enumerate(CATEGORIES, 1)]
    products: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    for product_id in range(1, size + 1):
        category = rng.randint(1, len(categories))
        name = f"{rng.choice(ADJECTIVES)} {CATEGORIES[category - 1][:-1]} {rng.randrange(1000)}"
        products.append(
            {
                "id": product_id,
                "name": name,
                "category_id": category,
                "price_cents": rng.randrange(500, 50_000),
                "stock": rng.randrange(0, 40),
                "updated_at": START_TIME,
            }
        )
        for _ in range(rng.randint(0, 8)):
            reviews.append(
                {
                    "id": len(reviews) + 1,
                    "product_id": product_id,
                    "rating": rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 5))[0],
                }
            )
    return CatalogData(seed, categories, products, reviews)


def load(session: Session, data: CatalogData) -> None:
    session.execute(insert(Category), data.categories)
    session.execute(insert(Product), data.products)
    if data.reviews:  # ids left to the database, so its sequence knows them (PostgreSQL)
        session.execute(
            insert(Review), [{k: v for k, v in r.items() if k != "id"} for r in data.reviews]
        )
    session.commit()
