"""Two situations the request stream cannot show: a stampede on a cold key, and data
changed behind the cache's back (another process), which only expiry can catch."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from perfkata.bench.probes.queries import StatementCounter
from perfkata.bench.together import release_together
from perfkata.katas.base import RunEnv
from perfkata.katas.cached_catalog import pages
from perfkata.katas.cached_catalog.data import CATEGORIES
from perfkata.katas.cached_catalog.models import Product
from perfkata.katas.cached_catalog.stream import Request
from perfkata.katas.cached_catalog.workload import (
    STAMPEDE_THREADS,
    TTL_SECONDS,
    call_learner,
    fresh_answer,
)


def statements_per_build(env: RunEnv, product_id: int) -> int:
    counter = StatementCounter(env.engine)
    counter.active = True
    with Session(env.engine) as session:
        pages.build_product_page(session, product_id)
    counter.close()
    return counter.count


def stampede(module: ModuleType, env: RunEnv) -> None:
    """16 threads released together on one cold product page: how many builds ran?"""
    product_id = 1
    per_build = statements_per_build(env, product_id)
    counter = StatementCounter(env.engine)

    def visitor() -> None:
        with Session(env.engine) as session:
            call_learner(module, session, env.services["cache"], Request("product", (1,)))

    builds_before, locks_before = pages.WORK.builds, env.services["cache"].stats.locks
    pages.SIMULATED_LATENCY, counter.active = 0.05, True  # builds overlap, as under load
    pages.WORK.active = True
    try:
        release_together(STAMPEDE_THREADS, visitor)
    finally:
        pages.SIMULATED_LATENCY, counter.active, pages.WORK.active = 0.0, False, False
        counter.close()
    builds = pages.WORK.builds - builds_before
    locks = env.services["cache"].stats.locks - locks_before
    if builds > 2:
        env.note("stampede_builds", stampede_said(builds, locks))
    # A page built without the kata's builders is counted by its statements instead.
    env.record("stampede_builds", float(builds) or round(counter.count / per_build, 1))


def stampede_said(builds: int, locks: int) -> str:
    """Why a stampede built more than once, from what the visitors did."""
    said = (
        f"{STAMPEDE_THREADS} visitors arrived together on a cold product page and {builds} built it"
    )
    if locks >= builds:
        return (
            f"{said}, each after taking cache.lock(): the one that waited must get the "
            "page again inside the lock, and build only if it is still missing"
        )
    return f"{said}: build under cache.lock(key), and get again once inside it"


def expiry(module: ModuleType, env: RunEnv) -> None:
    """Two ways a page outlives the promise of 300 s: data changed behind the cache (only
    expiry catches it), and a version key that expires and restarts, bringing back pages
    cached under its old number."""
    violations = behind_the_cache(module, env) + version_restarts(module, env)
    env.record("ttl_violations", violations)


def behind_the_cache(module: ModuleType, env: RunEnv) -> int:
    """Cache three pages, change their product behind the cache, jump past the declared
    timeout: every page must now be fresh."""
    with Session(env.engine) as session:
        product_id = pages.build_featured(session)[0]["id"]
        category, page = listing_of(session, product_id)
    reads = [
        Request("product", (product_id,)),
        Request("featured"),
        Request("listing", (category, page)),
    ]
    for request in reads:
        served_now(module, env, request)
    with Session(env.engine) as session:  # an admin script, not the learner's update_product
        session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(price_cents=Product.price_cents + 1)
        )
        session.commit()
    env.services["clock"].advance(TTL_SECONDS + 1)
    stale = [r for r in reads if not fresh_now(module, env, r)]
    if stale:
        env.note(
            "ttl_violations",
            f"{', '.join(r.describe() for r in stale)} still served the page cached "
            f"{TTL_SECONDS + 1} s earlier, after another program changed product "
            f"{product_id}: give every entry a timeout of at most {TTL_SECONDS} s",
        )
    return len(stale)


def version_restarts(module: ModuleType, env: RunEnv) -> int:
    """Read page 0 of a category (a versioned design creates its version key now), page 1
    150 s later, change a product of page 1 through the learner's update_product, read
    it fresh, then jump 151 s: a version key that expired after 300 s restarts at its
    first number, and page 1 as cached before the write would be served again."""
    clock = env.services["clock"]
    with Session(env.engine) as session:
        category, product_id = second_page_product(session)
    first, second = Request("listing", (category, 0)), Request("listing", (category, 1))
    served_now(module, env, first)
    clock.advance(TTL_SECONDS / 2)
    served_now(module, env, second)
    write = Request("update", (product_id,), (("price_cents", 12_345),))
    with Session(env.engine) as session:
        call_learner(module, session, env.services["cache"], write)
        session.commit()
    if not all(fresh_now(module, env, r) for r in (second, first)):
        return 0  # stale right after a write: the stream's stale-read check says so
    clock.advance(TTL_SECONDS / 2 + 1)
    stale = [r for r in (first, second) if not fresh_now(module, env, r)]
    if stale:
        env.note(
            "ttl_violations",
            f"{stale[0].describe()} served the page as it was before "
            f"{write.describe()}, {TTL_SECONDS + 1} s after the first read of its category: "
            "a version key that expires restarts at its first number and brings back pages "
            "cached under it — give version keys no timeout (timeout=None)",
        )
    return len(stale)


def served_now(module: ModuleType, env: RunEnv, request: Request) -> Any:
    with Session(env.engine) as session:
        return call_learner(module, session, env.services["cache"], request)


def fresh_now(module: ModuleType, env: RunEnv, request: Request) -> bool:
    served = served_now(module, env, request)
    with Session(env.engine) as session:
        return bool(served == fresh_answer(session, request))


def listing_of(session: Session, product_id: int) -> tuple[int, int]:
    category = pages.category_of(session, product_id)
    ids = session.scalars(
        select(Product.id).where(Product.category_id == category).order_by(Product.id)
    ).all()
    return category, ids.index(product_id) // pages.PAGE_SIZE


def second_page_product(session: Session) -> tuple[int, int]:
    """The first category with a second listing page, and a product shown on it."""
    for category in range(1, len(CATEGORIES) + 1):
        ids = session.scalars(
            select(Product.id).where(Product.category_id == category).order_by(Product.id)
        ).all()
        if len(ids) > pages.PAGE_SIZE:
            return category, ids[pages.PAGE_SIZE]
    raise LookupError("no category has a second listing page")
