"""How the grader drives the learner's catalog: the request stream with a stale-read
check after every read, the timed read path, and the stampede and expiry scenarios."""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import DetachedInstanceError

from perfkata.bench.cache import Cache, open_cache
from perfkata.bench.clock import FakeClock
from perfkata.bench.oracle import first_difference
from perfkata.bench.probes.queries import StatementCounter
from perfkata.bench.sourceline import LearnerFiles
from perfkata.errors import LearnerCodeError
from perfkata.katas.base import Backends, RunEnv
from perfkata.katas.cached_catalog import pages
from perfkata.katas.cached_catalog.stream import Request, requests

STREAM_LENGTH = 500  # reads per pass; the writes and their follow-up reads come on top
TIMED_READS = 100
REREAD = 200  # reads of the stream replayed, without writes, to see whether keys still grow
SECONDS_PER_REQUEST = 0.1  # the fake clock moves 10 requests per second
TTL_SECONDS = 300  # the brief's promise: nothing served is older than five minutes
STAMPEDE_THREADS = 16


@contextmanager
def catalog_services(engine: Engine, backends: Backends) -> Iterator[Mapping[str, Any]]:
    """A fake clock and a fresh, empty cache (diskcache in the scratch folder, or Redis);
    the wall clock follows the fake one while they are open."""
    clock = FakeClock()
    folder = backends.scratch / f"cache-{uuid.uuid4().hex[:8]}"
    with open_cache(backends.redis_url, folder, clock) as cache, wall_clock_follows(clock):
        # "fresh": the oracle's pages for the timed reads (see timed_pages), kept where
        # the learner's code, handed a session and the cache only, does not reach them
        yield {"cache": cache, "clock": clock, "fresh": {}}


@contextmanager
def wall_clock_follows(clock: FakeClock) -> Iterator[None]:
    """time.time() moves with the kata's clock: every jump of the fake clock (301 s for
    the expiry scenario) is added to real time. A learner who dates cache entries
    with time.time() instead of the cache's timeouts is judged on the same clock as the
    cache; real time keeps flowing, so no polling loop waits forever."""
    real, start = time.time, clock.now()
    time.time = lambda: real() + (clock.now() - start)
    try:
        yield
    finally:
        time.time = real


def call_learner(module: ModuleType, session: Session, cache: Cache, request: Request) -> Any:
    try:
        return dispatch(module, session, cache, request)
    except DetachedInstanceError as exc:
        raise orm_objects_cached(module, exc) from None


def orm_objects_cached(module: ModuleType, exc: DetachedInstanceError) -> LearnerCodeError:
    """SQLAlchemy's own message names an instance and a session, not the mistake: an
    object kept in the cache outlives the session that loaded it."""
    where = LearnerFiles([str(module.__file__)]).innermost_in_traceback(exc.__traceback__)
    return LearnerCodeError(
        "cache plain data (dicts, tuples), not ORM objects: an object read back from the "
        "cache belongs to no session, so reading an attribute it has not loaded fails"
        + (f" at {where.short()} (in {where.function})" if where else "")
        + f" ({type(exc).__name__}: {str(exc).splitlines()[0]})",
        file=where.file if where else None,
        line=where.line if where else None,
        hint="Cache what the page builders return, or turn rows into dicts before caching.",
        details="".join(traceback.format_exception(exc)),
    )


def dispatch(module: ModuleType, session: Session, cache: Cache, request: Request) -> Any:
    if request.kind == "product":
        return module.product_page(session, cache, *request.args)
    if request.kind == "featured":
        return module.featured_products(session, cache)
    if request.kind == "listing":
        return module.category_listing(session, cache, *request.args)
    if request.kind == "update":
        return module.update_product(session, cache, *request.args, **dict(request.changes))
    return module.add_review(session, cache, *request.args)


def fresh_answer(
    session: Session, request: Request, statistics: pages.Statistics | None = None
) -> Any:
    """The oracle: the uncached builder, on its own session, right now (`statistics`: the
    checker's remembered rating statistics, the same figures without the bootstrap)."""
    if request.kind == "product":
        product = request.args[0]
        return pages.product_page(session, product, statistics or pages.rating_statistics)
    if request.kind == "featured":
        return pages.build_featured(session)
    return pages.build_category_listing(session, *request.args)


def serve(module: ModuleType, env: RunEnv, request: Request, counter: StatementCounter) -> Any:
    """One web request: its own session; a write is committed at its end, as a framework
    would (the learner's code may also commit itself)."""
    with Session(env.engine) as session:
        counter.active = pages.WORK.active = request.is_read
        try:
            response = call_learner(module, session, env.services["cache"], request)
        finally:
            counter.active = pages.WORK.active = False
        if not request.is_read:
            session.commit()
    return response


class StaleReads:
    """Compares every read with the fresh answer. Only write requests change the database,
    so fresh answers are remembered until the next write: exact, and cheap. Those of the
    previous write's era are kept too, to tell a stale page (the write changed it) from
    a page served under another page's key (it did not)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None
        self.last_write: str | None = None
        self.fresh: dict[Request, Any] = {}
        self.before_write: dict[Request, Any] = {}
        self.statistics = pages.SameStatistics()

    def fresh_for(self, env: RunEnv, request: Request) -> Any:
        if request not in self.fresh:
            with Session(env.engine) as session:
                self.fresh[request] = fresh_answer(session, request, self.statistics)
        return self.fresh[request]

    def check(self, env: RunEnv, number: int, request: Request, served: Any) -> None:
        if not request.is_read:
            self.last_write = f"{request.describe()} (request {number})"
            self.before_write, self.fresh = self.fresh, {}
            return
        fresh = self.fresh_for(env, request)
        difference = first_difference(fresh, served, "the page")
        if difference:
            self.count += 1
            if self.first is None:
                said = self.served(difference, self.before_write.get(request, served) == fresh)
                self.first = f"{request.describe()} at request {number} {said}"

    def served(self, difference: str, unchanged_by_write: bool) -> str:
        """What went wrong, said for a cache: a page older than the write before it, or a
        page no write changed, cached under another page's key."""
        if self.last_write is None or unchanged_by_write:
            return (
                "served a page that differs from the fresh one, though no write changed "
                f"it — is a key missing one of the page's arguments? {difference}"
            )
        return f"served a stale page after {self.last_write} changed it: {difference}"


def run_stream(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    """The stream twice: cold, then warm (where load and hits are judged); then its first
    reads twice more with no write in between, where a page-keyed cache adds no key."""
    cache: Cache = env.services["cache"]
    counter, stale, rebuilds = StatementCounter(env.engine), StaleReads(), Rebuilds()
    stream = requests(env.size, env.seed, STREAM_LENGTH)
    reads = sum(1 for r in stream if r.is_read)
    try:
        for phase in ("cold", "warm"):
            counter.count, before = 0, cache.stats.snapshot()
            work = pages.WORK.statistics - pages.WORK.product_builds
            rebuilds.judging = phase == "warm"
            play(module, env, stream, counter, stale, rebuilds)
        after, statements = cache.stats.snapshot(), counter.count
        recomputed = pages.WORK.statistics - pages.WORK.product_builds - work
        new_keys = reread(module, env, counter, stale)
    finally:
        counter.close()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    env.record("statements_per_read", round(statements / reads, 4))
    env.record("hit_ratio", round(hits / (hits + misses), 4) if hits + misses else 0.0)
    env.record("cache_entries", cache.entry_count())
    env.record("new_keys_per_100_rereads", round(100 * len(new_keys) / REREAD, 2))
    if new_keys:
        shown = ", ".join(repr(k) for k in sorted(new_keys)[:3])
        env.note(
            "new_keys_per_100_rereads",
            f"reading {REREAD} pages again with no write in between added {len(new_keys)} "
            f"keys ({shown} …): a key must name the page (and its version), never the "
            "request — no counters, timestamps or random parts",
        )
    if recomputed > 0:
        env.note(
            "speedup",
            f"warm reads computed rating statistics {recomputed} times outside "
            "build_product_page: what the cache holds is not the finished page, so each "
            "read still does the expensive part — cache what the page builders return",
        )
    if rebuilds.needless:
        env.note(
            "hit_ratio",
            f"{rebuilds.needless} warm reads rebuilt a page no write had changed since it was "
            f"cached (first: {rebuilds.example}): a write changes its product's page, the "
            "featured list and its category's listings — invalidate only those (or the "
            "entries expired: keep timeouts of a few minutes)",
        )
    if after["clears"] > before["clears"]:
        env.note(
            "hit_ratio",
            f"cache.clear() ran {after['clears'] - before['clears']} times in the warm pass: "
            f"each write emptied the whole cache, and {misses} reads missed — delete (or "
            "version) only the pages a write changes",
        )
    env.record("stale_reads", stale.count)
    return {"stale_reads": stale.count, "first_stale": stale.first, "reads": reads * 2}


class Rebuilds:
    """Pages built again although no write had changed them (a write changes its
    product's page, the featured list and its category's listings): what invalidating
    too much — a whole-cache clear, one catalog-wide version — costs."""

    def __init__(self) -> None:
        self.built: set[Request] = set()
        self.changed: list[tuple[int, int]] = []  # (product, category) of every write
        self.needless, self.example, self.judging = 0, "", False

    def saw(self, env: RunEnv, request: Request, built: bool) -> None:
        if not request.is_read:
            with Session(env.engine) as session:
                product = request.args[0]
                self.changed.append((product, pages.category_of(session, product)))
            return
        if built and self.judging and request in self.built and not self.touched(request):
            self.needless += 1
            self.example = self.example or request.describe()
        self.built |= {request} if built else set()

    def touched(self, request: Request) -> bool:
        if request.kind == "featured":
            return bool(self.changed)
        index = 0 if request.kind == "product" else 1
        return any(change[index] == request.args[0] for change in self.changed)


def play(
    module: ModuleType,
    env: RunEnv,
    stream: tuple[Request, ...],
    counter: StatementCounter,
    stale: StaleReads,
    rebuilds: Rebuilds | None = None,
) -> None:
    for number, request in enumerate(stream, 1):
        env.services["clock"].advance(SECONDS_PER_REQUEST)
        builds = pages.WORK.builds
        stale.check(env, number, request, serve(module, env, request, counter))
        if rebuilds is not None:
            rebuilds.saw(env, request, pages.WORK.builds > builds)


def reread(
    module: ModuleType, env: RunEnv, counter: StatementCounter, stale: StaleReads
) -> set[str]:
    """The keys that appeared while pages already cached were read again. Page keys (with
    or without versions) stay the same when nothing is written; keys made per request —
    a counter, a timestamp — keep appearing, and would fill any cache. A first re-read
    settles pages whose version a write bumped but nothing read since; the second is
    the one judged."""
    cache: Cache = env.services["cache"]
    again = requests(env.size, env.seed, REREAD, writes=False)
    play(module, env, again, counter, stale)
    before = set(cache.store.iter_keys())
    play(module, env, again, counter, stale)
    return set(cache.store.iter_keys()) - before


def timed_reads(module: ModuleType, env: RunEnv) -> list[Any]:
    """The read path only, on the warm cache the timing services keep between samples;
    returns the pages served, which timed_pages then checks, untimed."""
    counter = StatementCounter(env.engine)
    stream = requests(env.size, env.seed, TIMED_READS, writes=False)
    try:
        return [serve(module, env, request, counter) for request in stream]
    finally:
        counter.close()


def timed_pages(env: RunEnv, served: list[Any]) -> dict[str, Any]:
    """A timed call's effect (katas/effects.py): how many of its reads differ from the
    fresh page, and the first. The timed reads write nothing, so each request's fresh
    page is built once per timing services (the first check costs one uncached pass)."""
    fresh: dict[Request, Any] = env.services["fresh"]
    stream = requests(env.size, env.seed, TIMED_READS, writes=False)
    wrong, first = 0, None
    for number, (request, page) in enumerate(zip(stream, served, strict=False), 1):
        if request not in fresh:
            with Session(env.engine) as session:
                fresh[request] = fresh_answer(session, request)
        difference = first_difference(fresh[request], page, "the page")
        if difference:
            wrong += 1
            first = first or f"{request.describe()} at timed read {number}: {difference}"
    return {"reads": len(stream), "served": len(served), "wrong": wrong, "first": first}


def verify_timed_pages(dataset: Any, found: dict[str, Any]) -> str | None:
    if found["served"] != found["reads"]:
        return f"{found['served']} of {found['reads']} timed reads were served"
    if found["wrong"]:
        wrong, reads = found["wrong"], found["reads"]
        return f"{wrong} of {reads} timed reads were wrong; the first, {found['first']}"
    return None
