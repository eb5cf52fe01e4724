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

    pages.SIMULATED_LATENCY, counter.active = 0.05, True  # builds overlap, as under load
    try:
        release_together(STAMPEDE_THREADS, visitor)
    finally:
        pages.SIMULATED_LATENCY, counter.active = 0.0, False
        counter.close()
    env.record("stampede_builds", round(counter.count / per_build, 1))


def expiry(module: ModuleType, env: RunEnv) -> None:
    """Cache three pages, change their product behind the cache, jump past the declared
    timeout: every page must now be fresh."""
    cache = env.services["cache"]
    with Session(env.engine) as session:
        product_id = pages.build_featured(session)[0]["id"]
        category = pages.category_of(session, product_id)
        ids = session.scalars(
            select(Product.id).where(Product.category_id == category).order_by(Product.id)
        ).all()
    reads = [
        Request("product", (product_id,)),
        Request("featured"),
        Request("listing", (category, ids.index(product_id) // pages.PAGE_SIZE)),
    ]
    for request in reads:
        with Session(env.engine) as session:
            call_learner(module, session, cache, request)
    with Session(env.engine) as session:  # an admin script, not the learner's update_product
        session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(price_cents=Product.price_cents + 1)
        )
        session.commit()
    env.services["clock"].advance(TTL_SECONDS + 1)
    violations = 0
    for request in reads:
        with Session(env.engine) as session:
            served: Any = call_learner(module, session, cache, request)
        with Session(env.engine) as session:
            violations += served != fresh_answer(session, request)
    env.record("ttl_violations", violations)
