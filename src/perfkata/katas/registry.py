"""Every kata by slug: the built-in ones and those third-party packs register through
the `perfkata.katas` entry-point group (an entry point names a Kata, or a callable that
returns one or a list of them).

A built-in kata's module is imported when its slug is first asked for: a worker grades
one kata, and importing all four (redis, dramatiq, croniter, diskcache with them) was
most of its start-up after SQLAlchemy. Listing every kata — or asking for a slug that is
not built in — imports them all and reads the entry points."""

from __future__ import annotations

import difflib
from importlib import import_module

from perfkata.errors import KataDefinitionError, KataNotFound
from perfkata.katas.base import Kata

# slug -> module, in the order `perfkata list` shows them
BUILTIN = {
    "n-plus-one-blog": "perfkata.katas.n_plus_one_blog",
    "cached-catalog": "perfkata.katas.cached_catalog",
    "cleanup-cron": "perfkata.katas.cleanup_cron",
    "report-worker": "perfkata.katas.report_worker",
    "analytics-dashboard": "perfkata.katas.analytics_dashboard",
    "http-caching": "perfkata.katas.http_caching",
    "image-pipeline": "perfkata.katas.image_pipeline",
}
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
_builtin: dict[str, Kata] = {}  # built-in katas imported so far, by slug


def builtin_kata(slug: str) -> Kata:
    """A built-in kata, its module imported now if it was not yet (one object per slug)."""
    kata = _builtin.get(slug)
    if kata is None:
        kata = import_module(BUILTIN[slug]).KATA
        if kata.slug != slug:
            raise KataDefinitionError(f"{BUILTIN[slug]} defines {kata.slug!r}, not {slug!r}.")
        _builtin[slug] = kata
    return kata


def registry() -> Registry:
    """The process-wide registry of every kata, filled on first use."""
    global _registry
    if _registry is None:
        from importlib.metadata import entry_points  # ~10-30 ms: only when all are wanted

        fresh = Registry()
        for slug in BUILTIN:
            fresh.add(builtin_kata(slug))
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
    """One kata: a built-in one without importing the others (a pack's kata that reuses a
    built-in slug is still refused, by `registry()`: `perfkata list` and `dev check`)."""
    if _registry is None and slug in BUILTIN:
        return builtin_kata(slug)
    return registry().get(slug)
