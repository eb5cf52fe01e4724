"""The shop the learner's API serves: cheap lookups of rows (with their `version` and
`updated_at`), and the expensive `render_*` functions that build each response body.

The learner's Flask app is handed a `Shop`. The grader keeps its own `Shop` of the same
data in its own process as the oracle, applies the same edits to both, and compares
every response a client ends up with against its own fresh render. A render is what a
conditional request must avoid: the worker counts them (`renders`) per request.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from perfkata.katas.http_caching.data import ShopData

LANGUAGES = ("en", "de")
Summary = Callable[[list[int], int], dict[str, Any]]
BOOTSTRAP_ROUNDS = 800  # what makes a render cost ~1.2 ms: the work a 304 saves


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    price_cents: int
    stock: int
    description: str
    version: int  # +1 on every change of the product's own fields (not its reviews)
    updated_at: int  # whole seconds (epoch) of its last change


@dataclass(frozen=True)
class Review:
    id: int
    product_id: int
    user_id: int
    rating: int
    text: str
    version: int  # +1 when the review is edited
    updated_at: int


@dataclass(frozen=True)
class User:
    id: int
    name: str
    version: int  # +1 when the profile changes
    updated_at: int


class Shop:
    """Rows by id, the renders, and the edits the grader applies between requests."""

    def __init__(self, data: ShopData, summary: Summary | None = None) -> None:
        self._products = {p["id"]: Product(**p) for p in data.products}
        self._reviews = {r["id"]: Review(**r) for r in data.reviews}
        self._users = {
            u["id"]: User(u["id"], u["name"], u["version"], u["updated_at"]) for u in data.users
        }
        self._tokens = {f"Bearer {u['token']}": u["id"] for u in data.users}
        self._renders = 0
        # the grader's own Shop (the oracle) passes a memoised summary: its renders are
        # checks, not the work being measured
        self._summary: Summary = summary or rating_summary

    # --- cheap lookups: no render, safe to call on every request ---------------------
    def product(self, product_id: int) -> Product | None:
        return self._products.get(product_id)

    def reviews_for(self, product_id: int) -> tuple[Review, ...]:
        return tuple(r for r in self._reviews.values() if r.product_id == product_id)

    def user(self, user_id: int) -> User | None:
        return self._users.get(user_id)

    def reviews_by(self, user_id: int) -> tuple[Review, ...]:
        return tuple(r for r in self._reviews.values() if r.user_id == user_id)

    def user_for(self, authorization: str | None) -> int | None:
        """The user an `Authorization: Bearer …` header belongs to, or None."""
        return self._tokens.get(authorization or "")

    @property
    def renders(self) -> int:
        return self._renders

    # --- renders: the expensive part, counted --------------------------------------
    def render_product(self, product_id: int, lang: str) -> dict[str, Any]:
        """The product page in `lang` ("en" or "de"): price, availability, ratings."""
        self._renders += 1
        product = self._products[product_id]
        ratings = sorted(r.rating for r in self.reviews_for(product_id))
        euros = f"{product.price_cents // 100}.{product.price_cents % 100:02d}"
        in_stock = product.stock > 0
        return {
            "id": product.id,
            "name": product.name,
            "description": product.description,
            "price": f"€{euros}" if lang == "en" else f"{euros.replace('.', ',')} €",
            "availability": ("in stock" if in_stock else "sold out")
            if lang == "en"
            else ("auf Lager" if in_stock else "ausverkauft"),
            "ratings": self._summary(ratings, product.id),
        }

    def render_reviews(self, product_id: int) -> dict[str, Any]:
        """Every review of a product, newest first, with the rating summary."""
        self._renders += 1
        reviews = sorted(self.reviews_for(product_id), key=lambda r: -r.id)
        return {
            "product_id": product_id,
            "reviews": [
                {"id": r.id, "user_id": r.user_id, "rating": r.rating, "text": r.text}
                for r in reviews
            ],
            "summary": self._summary(sorted(r.rating for r in reviews), product_id),
        }

    def render_dashboard(self, user_id: int) -> dict[str, Any]:
        """A user's own page: their profile and every review they wrote."""
        self._renders += 1
        user = self._users[user_id]
        mine = sorted(self.reviews_by(user_id), key=lambda r: r.id)
        return {
            "user": {"id": user.id, "name": user.name},
            "reviews": [
                {
                    "product_id": r.product_id,
                    "product": self._products[r.product_id].name,
                    "rating": r.rating,
                    "text": r.text,
                }
                for r in mine
            ],
            "summary": self._summary(sorted(r.rating for r in mine), user_id),
        }

    # --- edits: applied by the grader between requests ------------------------------
    def apply(self, edit: dict[str, Any]) -> None:
        """One change at the stream's time `edit["at"]`: a price, a new review, an edited
        review, or a renamed user. Each bumps the changed row's version and updated_at."""
        at, kind = int(edit["at"]), edit["kind"]
        if kind == "price":
            old = self._products[edit["product"]]
            self._products[old.id] = replace(
                old, price_cents=edit["price_cents"], version=old.version + 1, updated_at=at
            )
        elif kind == "review":
            rid = max(self._reviews, default=0) + 1
            self._reviews[rid] = Review(
                rid, edit["product"], edit["user"], edit["rating"], edit["text"], 1, at
            )
        elif kind == "review_edit":
            old_review = self._reviews[edit["review"]]
            self._reviews[old_review.id] = replace(
                old_review,
                rating=edit["rating"],
                text=edit["text"],
                version=old_review.version + 1,
                updated_at=at,
            )
        elif kind == "rename":
            old_user = self._users[edit["user"]]
            self._users[old_user.id] = replace(
                old_user, name=edit["name"], version=old_user.version + 1, updated_at=at
            )
        else:
            raise ValueError(f"unknown edit {kind!r}")

    def review_ids(self) -> list[int]:
        return sorted(self._reviews)


def remembered_summary(ratings: list[int], seed: int) -> dict[str, Any]:
    """The same summary, each computed once (the oracle's renders: a copy per call)."""
    return copy.deepcopy(_remembered(tuple(ratings), seed))


@lru_cache(maxsize=4096)
def _remembered(ratings: tuple[int, ...], seed: int) -> dict[str, Any]:
    return rating_summary(ratings, seed)


def rating_summary(ratings: Iterable[int], seed: int) -> dict[str, Any]:
    """Count, mean and a bootstrap interval of the mean: honest about few ratings, and
    the costly part of every render."""
    values = list(ratings)
    count = len(values)
    summary: dict[str, Any] = {
        "count": count,
        "mean": round(sum(values) / count, 2) if count else None,
        "interval": None,
    }
    if count >= 2:
        rng = random.Random(seed)
        means = sorted(sum(rng.choices(values, k=count)) / count for _ in range(BOOTSTRAP_ROUNDS))
        lo, hi = means[int(BOOTSTRAP_ROUNDS * 0.025)], means[int(BOOTSTRAP_ROUNDS * 0.975) - 1]
        summary["interval"] = [round(lo, 2), round(hi, 2)]
    return summary
