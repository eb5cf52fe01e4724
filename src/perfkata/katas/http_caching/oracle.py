"""The oracle: the grader's own Shop, edited in step with the worker's, which knows every
representation each address has had and when it stopped being current — so a response
a client ends up with can be judged as fresh, stale within what the shop allows, stale
past it, another language's, or another user's."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from perfkata.katas.http_caching.data import ShopData
from perfkata.katas.http_caching.shop import Shop, remembered_summary
from perfkata.katas.http_caching.stream import affected_paths, describe_edit

# The shop's freshness rule (the brief's): how late a client may see a change, by route.
LIMITS = {"/products/<id>": 60, "/products/<id>/reviews": 60, "/users/<id>/dashboard": 0}
Key = tuple[str, str]  # (path, language for pages that vary by it, else "")


def route_of(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[0] == "users":
        return "/users/<id>/dashboard"
    return "/products/<id>/reviews" if parts[-1] == "reviews" else "/products/<id>"


def parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass(frozen=True)
class Past:
    """A representation that stopped being current at `until` (stream seconds)."""

    body: Any
    until: int
    because: str  # the edit that ended it, and at which request


@dataclass(frozen=True)
class Expected:
    status: int
    body: Any
    key: Key


class Oracle:
    def __init__(self, data: ShopData) -> None:
        self.shop = Shop(data, remembered_summary)
        self.current: dict[Key, Any] = {}
        self.history: dict[Key, list[Past]] = defaultdict(list)

    def expected(self, user: int, lang: str, path: str) -> Expected:
        parts = path.strip("/").split("/")
        if parts[0] == "users":
            owner = int(parts[1])
            if owner != user:
                return Expected(403, None, (path, ""))
            return Expected(200, self.body((path, "")), (path, ""))
        key = (path, lang if route_of(path) == "/products/<id>" else "")
        return Expected(200, self.body(key), key)

    def body(self, key: Key) -> Any:
        if key not in self.current:
            self.current[key] = self.render(*key)
        return self.current[key]

    def render(self, path: str, lang: str) -> Any:
        parts = path.strip("/").split("/")
        number = int(parts[1])
        if parts[0] == "users":
            return self.shop.render_dashboard(number)
        if parts[-1] == "reviews":
            return self.shop.render_reviews(number)
        return self.shop.render_product(number, lang)

    def edit(self, edit: dict[str, Any], at: int, number: int) -> None:
        """Apply an edit; every representation it changes becomes history."""
        because = f"{describe_edit(edit)} at request {number}"
        self.shop.apply(edit)
        for path in affected_paths(edit):
            for key in [(path, ""), (path, "en"), (path, "de")]:
                if key in self.current:
                    old = self.current.pop(key)
                    if self.body(key) != old:
                        self.history[key].append(Past(old, at, because))

    def past(self, key: Key, body: Any) -> Past | None:
        """The most recent time `body` stopped being this address's representation."""
        for old in reversed(self.history.get(key, [])):
            if old.body == body:
                return old
        return None

    def owner_of(self, body: Any) -> int | None:
        """Whose dashboard `body` is (any version), if it is one."""
        if isinstance(body, dict) and isinstance(body.get("user"), dict):
            owner = body["user"].get("id")
            return owner if isinstance(owner, int) else None
        return None
