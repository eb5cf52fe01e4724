"""The shop's data, generated from (size, seed): `size` products, a few reviews each, and
the users who poll the API. Every row has a `version` (a counter bumped by each change)
and an `updated_at` (whole seconds on the stream's clock): what cheap validators are
made from. Nothing is stored in a database: the API reads an in-memory `Shop`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Session

START_TIME = 1_800_000_000  # the stream's clock starts here (whole seconds, UTC)
USERS = 8
ADJECTIVES = ("Quiet", "Swift", "Sturdy", "Compact", "Ergonomic", "Wireless", "Classic", "Pro")
THINGS = ("Keyboard", "Mouse", "Monitor", "Cable", "Chair", "Desk", "Lamp", "Headset")
NAMES = ("Ada", "Bo", "Chen", "Dara", "Emil", "Fatou", "Gus", "Hana", "Ines", "Jon")
WORDS = ("solid", "flimsy", "great value", "arrived late", "as described", "would buy again")
PHRASES = (
    "Built to last through years of daily use in a busy office.",
    "Ships in recycled packaging with a two-year warranty.",
    "Tested by our team for a full month before it joined the catalog.",
    "Pairs well with the rest of the range; spare parts are stocked.",
    "Quiet in operation, easy to clean, and simple to set up.",
    "Designed in Lisbon and assembled in Porto by a family business.",
    "Our customers' favourite for small desks and shared spaces.",
    "Every unit is inspected twice before it leaves the warehouse.",
)


class Base(DeclarativeBase):
    """No tables: the kata's data lives in memory (a Kata declares its models all the
    same, and the worker's database stays empty)."""


@dataclass(frozen=True)
class ShopData:
    seed: int
    products: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    users: list[dict[str, Any]]


def generate(size: int, seed: int) -> ShopData:
    rng = random.Random(seed)
    users = [
        {
            "id": uid,
            "name": f"{rng.choice(NAMES)} {chr(65 + uid)}.",
            "token": f"tok-{rng.getrandbits(48):012x}",  # new every seed: no hard-coding
            "lang": "de" if uid % 2 else "en",
            "version": 1,
            "updated_at": START_TIME,
        }
        for uid in range(1, USERS + 1)
    ]
    products: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    for pid in range(1, size + 1):
        products.append(
            {
                "id": pid,
                "name": f"{rng.choice(ADJECTIVES)} {rng.choice(THINGS)} {rng.randrange(100, 999)}",
                "price_cents": rng.randrange(500, 50_000),
                "stock": rng.randrange(0, 30),
                "description": " ".join(rng.sample(PHRASES, 6)),
                "version": 1,
                "updated_at": START_TIME,
            }
        )
        for _ in range(rng.randint(0, 5)):
            reviews.append(new_review(len(reviews) + 1, pid, rng, START_TIME))
    return ShopData(seed, products, reviews, users)


def new_review(review_id: int, product_id: int, rng: random.Random, now: int) -> dict[str, Any]:
    return {
        "id": review_id,
        "product_id": product_id,
        "user_id": rng.randint(1, USERS),
        "rating": rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 5))[0],
        "text": f"{rng.choice(WORDS).capitalize()}. {rng.choice(PHRASES)}",
        "version": 1,
        "updated_at": now,
    }


def load(session: Session, data: ShopData) -> None:
    """Nothing to write: each run builds its Shop from the dataset (katas/http_caching/shop.py)."""
