"""Every kata by slug: the built-in ones and those third-party packs register through
the `perfkata.katas` entry-point group (an entry point names a Kata, or a callable that
returns one or a list of them)."""

from __future__ import annotations

import difflib
from importlib import import_module
from importlib.metadata import entry_points

from perfkata.errors import KataDefinitionError, KataNotFound
from perfkata.katas.base import Kata

BUILTIN_MODULES = (
    "perfkata.katas.n_plus_one_blog",
    "perfkata.katas.cached_catalog",
    "perfkata.katas.cleanup_cron",
    "perfkata.katas.report_worker",
)
ENTRY_POINT_GROUP = "perfkata.katas"


class Registry:
    def __init__(self) -> None:
        self._katas: dict[str, Kata] = {}

    def add(self, kata: Kata) -> Kata:
        if kata.slug in self._katas:
            raise KataDefinitionError(
                f"a kata named {kata.slug!r} is already registered; kata slugs must be unique."
            )
        self._katas[kata.slug] = kata
        return kata

    def get(self, slug: str) -> Kata:
        try:
            return self._katas[slug]
        except KeyError:
            raise KataNotFound(_unknown_message(slug, self._katas)) from None

    def all(self) -> list[Kata]:
        return list(self._katas.values())

    def slugs(self) -> list[str]:
        return list(self._katas)


def _unknown_message(slug: str, known: dict[str, Kata]) -> str:
    # 0.6: a typo or a missing dash ("cached-catalogue", "nplusone-blog"); a lower cutoff
    # offered "cached-catalog" for "no-such-kata". A word of a slug ("blog") also matches.
    close = difflib.get_close_matches(slug, list(known), n=3, cutoff=0.6)
    close += [k for k in known if len(slug) >= 4 and slug in k and k not in close]
    if close:
        return f"There is no kata called {slug!r}; did you mean {', '.join(close)}?"
    return f"There is no kata called {slug!r}. The katas are: {', '.join(known)}."


_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, filled on first use."""
    global _registry
    if _registry is None:
        fresh = Registry()
        for module_name in BUILTIN_MODULES:
            fresh.add(import_module(module_name).KATA)
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            _add_loaded(fresh, entry.load())
        _registry = fresh
    return _registry


def _add_loaded(target: Registry, loaded: object) -> None:
    found = loaded() if callable(loaded) and not isinstance(loaded, Kata) else loaded
    items = found if isinstance(found, list | tuple) else [found]
    for item in items:
        if not isinstance(item, Kata):
            raise KataDefinitionError(
                f"entry point in {ENTRY_POINT_GROUP!r} gave {type(item).__name__}, not a Kata."
            )
        target.add(item)


def get_kata(slug: str) -> Kata:
    return registry().get(slug)
