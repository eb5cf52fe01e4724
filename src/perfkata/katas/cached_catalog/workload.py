"""How the grader drives the learner's catalog: the request stream with a stale-read
check after every read, the timed read path, and the stampede and expiry scenarios."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfkata.bench.cache import Cache, open_cache
from perfkata.bench.clock import FakeClock
from perfkata.bench.oracle import first_difference
from perfkata.bench.probes.queries import StatementCounter
from perfkata.katas.base import Backends, RunEnv
from perfkata.katas.cached_catalog import pages
from perfkata.katas.cached_catalog.stream import Request, requests

STREAM_LENGTH = 500  # reads per pass; the writes and their follow-up reads come on top
TIMED_READS = 100
SECONDS_PER_REQUEST = 0.1  # the fake clock moves 10 requests per second
TTL_SECONDS = 300  # the brief's promise: nothing served is older than five minutes
STAMPEDE_THREADS = 16


@contextmanager
def catalog_services(engine: Engine, backends: Backends) -> Iterator[Mapping[str, Any]]:
    """A fake clock and a fresh, empty cache (diskcache in the scratch folder, or Redis)."""
    clock = FakeClock()
    folder = backends.scratch / f"cache-{uuid.uuid4().hex[:8]}"
    with open_cache(backends.redis_url, folder, clock) as cache:
        yield {"cache": cache, "clock": clock}


def call_learner(module: ModuleType, session: Session, cache: Cache, request: Request) -> Any:
    if request.kind == "product":
        return module.product_page(session, cache, *request.args)
    if request.kind == "featured":
        return module.featured_products(session, cache)
    if request.kind == "listing":
        return module.category_listing(session, cache, *request.args)
    if request.kind == "update":
        return module.update_product(session, cache, *request.args, **dict(request.changes))
    return module.add_review(session, cache, *request.args)


def fresh_answer(session: Session, request: Request) -> Any:
    """The oracle: the uncached builder, on its own session, right now."""
    if request.kind == "product":
        return pages.build_product_page(session, *request.args)
    if request.kind == "featured":
        return pages.build_featured(session)
    return pages.build_category_listing(session, *request.args)


def serve(module: ModuleType, env: RunEnv, request: Request, counter: StatementCounter) -> Any:
    """One web request: its own session; a write is committed at its end, as a framework
    would (the learner's code may also commit itself)."""
    with Session(env.engine) as session:
        counter.active = request.is_read
        try:
            response = call_learner(module, session, env.services["cache"], request)
        finally:
            counter.active = False
        if not request.is_read:
            session.commit()
    return response


class StaleReads:
    """Compares every read with the fresh answer. Only write requests change the database,
    so fresh answers are remembered until the next write: exact, and cheap."""

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None
        self.last_write = "no write yet"
        self.fresh: dict[Request, Any] = {}

    def fresh_for(self, env: RunEnv, request: Request) -> Any:
        if request not in self.fresh:
            with Session(env.engine) as session:
                self.fresh[request] = fresh_answer(session, request)
        return self.fresh[request]

    def check(self, env: RunEnv, number: int, request: Request, served: Any) -> None:
        if not request.is_read:
            self.last_write = f"request {number}: {request.describe()}"
            self.fresh.clear()
            return
        difference = first_difference(self.fresh_for(env, request), served, "the page")
        if difference:
            self.count += 1
            if self.first is None:
                self.first = (
                    f"stale read at request {number}, {request.describe()} "
                    f"(last write: {self.last_write}): {difference}"
                )


def run_stream(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    """The stream twice: cold, then warm; the warm pass is where load and hits are judged."""
    cache: Cache = env.services["cache"]
    counter, stale = StatementCounter(env.engine), StaleReads()
    stream = requests(env.size, env.seed, STREAM_LENGTH)
    reads = sum(1 for r in stream if r.is_read)
    try:
        for _phase in ("cold", "warm"):
            counter.count, before = 0, cache.stats.snapshot()
            for number, request in enumerate(stream, 1):
                env.services["clock"].advance(SECONDS_PER_REQUEST)
                stale.check(env, number, request, serve(module, env, request, counter))
        after = cache.stats.snapshot()
    finally:
        counter.close()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    env.record("statements_per_read", round(counter.count / reads, 4))
    env.record("hit_ratio", round(hits / (hits + misses), 4) if hits + misses else 0.0)
    env.record("cache_entries", cache.entry_count())
    env.record("stale_reads", stale.count)
    return {"stale_reads": stale.count, "first_stale": stale.first, "reads": reads * 2}


def timed_reads(module: ModuleType, env: RunEnv) -> None:
    """The read path only, on the warm cache the timing services keep between samples."""
    counter = StatementCounter(env.engine)
    stream = requests(env.size, env.seed, TIMED_READS, writes=False)
    try:
        for request in stream:
            serve(module, env, request, counter)
    finally:
        counter.close()
