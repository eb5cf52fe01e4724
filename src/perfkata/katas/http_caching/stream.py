"""The stream the grader replays: several users polling the API, one event per second of
the stream's clock, with edits interleaved. Besides the random polls it places, on
purpose, what a wrong header would show: the pages an edit changed are read again soon
after it (a validator that did not change serves the old one), and a minute or two
later (a lifetime longer than the shop allows serves it still); and right after a user
loads their dashboard, another user opens that dashboard's address (a shared cache that
stored it would hand it over)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from perfkata.katas.http_caching.data import NAMES, USERS, WORDS, ShopData

STREAM_SECONDS = 300
EDIT_EVERY = 12  # one edit per this many seconds of the stream, on average
REREADS_AFTER_EDIT = (2, 65, 125)  # seconds: soon, past the shop's 60 s, long past
PEEK_CHANCE = 0.3  # another user opens a dashboard right after its owner did


@dataclass(frozen=True)
class Event:
    at: int  # seconds since the stream started
    user: int = 0  # who asks (0 for an edit)
    path: str = ""
    edit: dict[str, Any] = field(default_factory=dict)

    @property
    def is_edit(self) -> bool:
        return bool(self.edit)

    def describe(self) -> str:
        if self.is_edit:
            return describe_edit(self.edit)
        return f"GET {self.path} by user {self.user}"


def describe_edit(edit: dict[str, Any]) -> str:
    kind = edit["kind"]
    if kind == "price":
        return f"the price of product {edit['product']} changed"
    if kind == "review":
        return f"user {edit['user']} reviewed product {edit['product']}"
    if kind == "review_edit":
        return f"review {edit['review']} (of product {edit['product']}) was edited"
    return f"user {edit['user']} renamed themselves"


def affected_paths(edit: dict[str, Any]) -> list[str]:
    """The addresses whose representation an edit changes."""
    if edit["kind"] == "price":
        return [f"/products/{edit['product']}"]
    if edit["kind"] == "rename":
        return [f"/users/{edit['user']}/dashboard"]
    product = edit["product"]
    return [
        f"/products/{product}",
        f"/products/{product}/reviews",
        f"/users/{edit['user']}/dashboard",
    ]


class Timeline:
    """One event per second: a wanted second already taken moves to the next free one."""

    def __init__(self) -> None:
        self.slots: dict[int, Event] = {}

    def put(self, at: int, **fields: Any) -> None:
        while at in self.slots:
            at += 1
        if at < STREAM_SECONDS:
            self.slots[at] = Event(at, **fields)

    def events(self) -> tuple[Event, ...]:
        return tuple(self.slots[at] for at in sorted(self.slots))


def stream(size: int, data: ShopData, seed: int) -> tuple[Event, ...]:
    rng = random.Random(seed * 7 + 1)
    hot = list(range(1, size + 1))
    rng.shuffle(hot)
    weights = [1 / (rank + 1) ** 1.4 for rank in range(size)]  # a few products: most reads
    timeline = Timeline()
    reviews = {r["id"]: (r["product_id"], r["user_id"]) for r in data.reviews}
    # every edit early enough for its last re-read to fall inside the stream
    last = STREAM_SECONDS - REREADS_AFTER_EDIT[-1] - 5
    edits = sorted(rng.sample(range(20, last), STREAM_SECONDS // EDIT_EVERY))
    kinds = ("price", "review", "review_edit", "rename")
    for number, at in enumerate(edits):
        edit = make_edit(kinds[number % len(kinds)], rng, hot[: size // 4], reviews, at)
        timeline.put(at, edit=edit)
        for path in affected_paths(edit):
            for later in REREADS_AFTER_EDIT:
                timeline.put(at + later, user=reader(path, rng), path=path)
    for at in range(STREAM_SECONDS):
        if at in timeline.slots:
            continue
        user = rng.randint(1, USERS)
        path = random_path(rng, user, hot, weights)
        timeline.put(at, user=user, path=path)
        if path.endswith("/dashboard") and rng.random() < PEEK_CHANCE:
            other = rng.choice([u for u in range(1, USERS + 1) if u != user])
            timeline.put(at + 1, user=other, path=path)
    return timeline.events()


def reader(path: str, rng: random.Random) -> int:
    """Who reads a changed page again: a dashboard's owner, anyone for the rest."""
    if path.startswith("/users/"):
        return int(path.split("/")[2])
    return rng.randint(1, USERS)


def random_path(rng: random.Random, user: int, hot: list[int], weights: list[float]) -> str:
    product = rng.choices(hot, weights)[0]
    roll = rng.random()
    if roll < 0.5:
        return f"/products/{product}"
    if roll < 0.72:
        return f"/products/{product}/reviews"
    return f"/users/{user}/dashboard"


def make_edit(
    kind: str,
    rng: random.Random,
    products: list[int],
    reviews: dict[int, tuple[int, int]],
    at: int,
) -> dict[str, Any]:
    """An edit of `kind` at second `at`; new reviews join `reviews`, so later edits may
    change them (their ids follow the shop's: one more than the largest)."""
    product = rng.choice(products)
    user = rng.randint(1, USERS)
    if kind == "price":
        return {"kind": kind, "product": product, "price_cents": rng.randrange(500, 50_000)}
    if kind == "review" or (kind == "review_edit" and not reviews):
        rid = max(reviews, default=0) + 1
        reviews[rid] = (product, user)
        rating, text = rng.randint(1, 5), rng.choice(WORDS)
        return {"kind": "review", "product": product, "user": user, "rating": rating, "text": text}
    if kind == "review_edit":
        rid = rng.choice(sorted(reviews))
        product, user = reviews[rid]
        rating, text = rng.randint(1, 5), rng.choice(WORDS)
        return {
            "kind": kind,
            "review": rid,
            "product": product,
            "user": user,
            "rating": rating,
            "text": text,
        }
    return {"kind": "rename", "user": user, "name": f"{rng.choice(NAMES)} {rng.choice(NAMES)[0]}."}
