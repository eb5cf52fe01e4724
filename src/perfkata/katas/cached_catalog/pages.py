"""What the catalog's pages show, computed from the database — slowly, on purpose.

These are the kata's uncached builders: the learner calls them and adds caching around
them. They are also the oracle: the grader calls them on a separate session after every
read to know the fresh answer. `SIMULATED_LATENCY` adds a sleep per build (a slow
downstream service) while the grader tests stampede protection.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from perfkata.katas.cached_catalog.models import Category, Product, Review

PAGE_SIZE = 20
FEATURED_COUNT = 10
SIMULATED_LATENCY = 0.0  # seconds; set by the grader's stampede scenario only
PRIOR_MEAN, PRIOR_WEIGHT = 3.5, 5  # Bayesian average: few reviews pull towards 3.5


def bayesian(total: int, count: int) -> float:
    return round((PRIOR_MEAN * PRIOR_WEIGHT + total) / (PRIOR_WEIGHT + count), 3)


def bootstrap_interval(ratings: list[int], seed: int, rounds: int = 800) -> list[float] | None:
    """95 % bootstrap interval of the mean rating: honest about few reviews, and costly —
    the expensive computation the page repeats on every request."""
    if len(ratings) < 2:
        return None
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(ratings, k=len(ratings))) / len(ratings) for _ in range(rounds))
    return [round(means[int(rounds * 0.025)], 3), round(means[int(rounds * 0.975) - 1], 3)]


def rating_statistics(ratings: list[int], seed: int) -> dict[str, Any]:
    """Histogram, mean, Bayesian score and bootstrap interval of a product's ratings."""
    WORK.add("statistics")
    count = len(ratings)
    return {
        "count": count,
        "mean": round(sum(ratings) / count, 3) if count else None,
        "score": bayesian(sum(ratings), count),
        "interval": bootstrap_interval(sorted(ratings), seed),
        "histogram": {str(star): ratings.count(star) for star in range(1, 6)},
    }


class WorkCount:
    """The expensive work done while `active` (the learner's reads, a stampede; never the
    grader's own fresh answers): pages built, and rating statistics computed — more of
    those than product pages built means a read recomputes what it should have cached."""

    def __init__(self) -> None:
        self.active = False
        self.builds = self.product_builds = self.statistics = 0
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        if self.active:
            with self._lock:
                setattr(self, name, getattr(self, name) + 1)


WORK = WorkCount()


def _simulated_wait() -> None:
    WORK.add("builds")  # every builder starts here
    if SIMULATED_LATENCY:
        time.sleep(SIMULATED_LATENCY)


Statistics = Callable[[list[int], int], dict[str, Any]]


def build_product_page(session: Session, product_id: int) -> dict[str, Any]:
    return product_page(session, product_id, rating_statistics)


def product_page(session: Session, product_id: int, statistics: Statistics) -> dict[str, Any]:
    """The product page from the database as it is now; `statistics` computes the
    ratings' part (the oracle's remembers it per set of ratings: see SameStatistics)."""
    _simulated_wait()
    WORK.add("product_builds")
    product = session.get(Product, product_id)
    if product is None:
        raise KeyError(f"no product {product_id}")
    category = session.get(Category, product.category_id)
    ratings = list(session.scalars(select(Review.rating).where(Review.product_id == product_id)))
    return {
        "id": product.id,
        "name": product.name,
        "category": category.name if category else "",
        "price_cents": product.price_cents,
        "in_stock": product.stock > 0,
        "stock": product.stock,
        "ratings": statistics(ratings, product_id),
    }


class SameStatistics:
    """The oracle's rating statistics, remembered per product and set of ratings: a pure
    function of those (the bootstrap is seeded by the product), so a fresh page built
    after a write that left a product's reviews alone skips its ~2 ms bootstrap. The
    page's other fields are still read from the database every time. One per stream,
    held by the grader's own checker (never a module global a solution could fill)."""

    def __init__(self) -> None:
        self.known: dict[tuple[int, tuple[int, ...]], dict[str, Any]] = {}

    def __call__(self, ratings: list[int], seed: int) -> dict[str, Any]:
        key = (seed, tuple(sorted(ratings)))
        if key not in self.known:
            self.known[key] = rating_statistics(ratings, seed)
        found = self.known[key]
        interval = found["interval"]
        return {
            **found,
            "interval": list(interval) if interval is not None else None,
            "histogram": dict(found["histogram"]),
        }


def _scores(session: Session, category_id: int | None = None) -> dict[int, float]:
    query = select(Review.product_id, func.sum(Review.rating), func.count()).group_by(
        Review.product_id
    )
    if category_id is not None:
        query = query.join(Product, Product.id == Review.product_id).where(
            Product.category_id == category_id
        )
    return {pid: bayesian(int(total), int(n)) for pid, total, n in session.execute(query)}


def build_featured(session: Session) -> list[dict[str, Any]]:
    """The ten in-stock products with the best Bayesian score (ties by id)."""
    _simulated_wait()
    scores = _scores(session)
    in_stock = session.execute(
        select(Product.id, Product.name, Product.price_cents).where(Product.stock > 0)
    ).all()
    ranked = sorted(in_stock, key=lambda row: (-scores.get(row.id, PRIOR_MEAN), row.id))
    return [
        {
            "id": row.id,
            "name": row.name,
            "price_cents": row.price_cents,
            "score": scores.get(row.id, PRIOR_MEAN),
        }
        for row in ranked[:FEATURED_COUNT]
    ]


def build_category_listing(session: Session, category_id: int, page: int) -> list[dict[str, Any]]:
    """One page of a category, by product id, with price, stock and score."""
    _simulated_wait()
    scores = _scores(session, category_id)
    rows = session.execute(
        select(Product.id, Product.name, Product.price_cents, Product.stock)
        .where(Product.category_id == category_id)
        .order_by(Product.id)
        .limit(PAGE_SIZE)
        .offset(page * PAGE_SIZE)
    ).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "price_cents": r.price_cents,
            "in_stock": r.stock > 0,
            "score": scores.get(r.id, PRIOR_MEAN),
        }
        for r in rows
    ]


def category_of(session: Session, product_id: int) -> int:
    """The category a product is listed in (products never change category)."""
    return int(
        session.execute(select(Product.category_id).where(Product.id == product_id)).scalar_one()
    )


def apply_product_update(session: Session, product_id: int, **changes: Any) -> None:
    """Write price_cents and/or stock (the request commits)."""
    allowed = {"price_cents", "stock"}
    if not set(changes) <= allowed:
        raise ValueError(f"only {sorted(allowed)} can change, not {sorted(set(changes) - allowed)}")
    values = {**changes, "updated_at": Product.updated_at + 1}
    session.execute(update(Product).where(Product.id == product_id).values(**values))


def apply_new_review(session: Session, product_id: int, rating: int) -> None:
    session.add(Review(product_id=product_id, rating=rating))
    session.flush()
