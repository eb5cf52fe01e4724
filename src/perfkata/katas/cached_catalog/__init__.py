"""The cached-catalog kata: cache expensive pages, invalidate on writes, expire, and
protect a cold key from a stampede — on diskcache or Redis."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from perfkata.katas.base import Check, define_kata
from perfkata.katas.cached_catalog import data
from perfkata.katas.cached_catalog.models import Base
from perfkata.katas.cached_catalog.scenarios import expiry, stampede
from perfkata.katas.cached_catalog.workload import (
    catalog_services,
    run_stream,
    timed_pages,
    timed_reads,
    verify_timed_pages,
)
from perfkata.katas.effects import TimedEffect


def verify_stream(dataset: data.CatalogData, output: Any) -> str | None:
    """A read that differs from the fresh page is this kata's wrong answer; the sentence
    is shown as it is (extras below), worded for a cache rather than as "wrong output"."""
    if not isinstance(output, dict) or "stale_reads" not in output:
        return "wrong output: the run produced no stale-read report"
    if output["stale_reads"] == 0:
        return None
    return f"{output['stale_reads']} reads were not fresh; the first: {output['first_stale']}"


HINTS = (
    "Start with reads: wrap each builder in cache.get(key) / cache.set(key, value). One "
    "key per page: f'product:{product_id}', 'featured', f'listing:{category_id}:{page}'.",
    "Then writes: a price, stock or review change alters that product's page, the featured "
    "list and every listing page of its category. Delete those keys after the write, or "
    "keep a version number per category (cache.incr) and put it in the listing keys.",
    "Give every set a timeout (timeout=300 or less): other programs change the data too, "
    "and only expiry catches what your code never sees.",
    "Stampede: on a miss, take `with cache.lock(key, timeout=10):`, then get again "
    "(another request may have filled it while you waited) and only build if still empty.",
)

KATA = define_kata(
    slug="cached-catalog",
    title="The catalog that recomputes every page",
    difficulty="intermediate",
    summary="Cache pages with correct invalidation, expiry and stampede protection.",
    files=("catalog.py",),
    entry_points=(
        "product_page",
        "featured_products",
        "category_listing",
        "update_product",
        "add_review",
    ),
    sizes=(300,),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=Base,
    generate=data.generate,
    load=data.load,
    verify=verify_stream,
    workload=run_stream,
    environment=catalog_services,
    timed=timed_reads,
    scenarios={"stampede": stampede, "expiry": expiry},
    extras={
        "verify_words_itself": True,
        # every timed read's page is checked too: a read path that skips its work when
        # nothing watches (its thousandth call, say) would be timed returning nothing
        "timed_effects": {"timed": TimedEffect(timed_pages, verify_timed_pages)},
    },
    rubric=(
        Check.of(
            "fresh",
            "stale reads",
            "stale_reads",
            "==0",
            25,
            "Invalidate (delete or version) every key a write changes.",
            gate=True,
        ),
        Check.of(
            "db-load",
            "statements per read (warm)",
            "statements_per_read",
            "<=0.1",
            15,
            "Serve warm reads from the cache without touching the database.",
        ),
        Check.of(
            "hit-ratio",
            "hit ratio (warm)",
            "hit_ratio",
            ">=0.85",
            15,
            "Cache every read page, and invalidate only what a write changes.",
        ),
        Check.of(
            "stampede",
            "builds in a stampede",
            "stampede_builds",
            "<=2",
            15,
            "On a miss, build under cache.lock(key) and get again inside the lock.",
        ),
        Check.of(
            "expiry",
            "stale after 301 s",
            "ttl_violations",
            "==0",
            10,
            "Nothing may be served 300 s after the data changed: time out every page "
            "within 300 s, and never let a version key expire (what was served is above).",
        ),
        Check.of(
            "speedup",
            "speed-up vs starter",
            "speedup",
            # >= 0.2x the reference's speed-up in the same rounds (paired per round), and
            # a floor far below what the reference shows on any machine (grader.timing).
            # 0.2, not 0.4: versioned keys pay a second lookup per read and measured
            # 0.40x the reference (inconclusive at 0.4); recomputing per read is ~0.05x.
            ">=0.2*ref & >=2",
            10,
            "A warm read should do no work beyond a cache lookup: cache finished pages, "
            "and fix any failed load or hit-ratio check first.",
        ),
        Check.of(
            # Bounded means keys that stop growing when requests repeat, judged on its
            # own: every page-keyed design (deletes, versions, clear-on-write) adds 0
            # keys while pages are read again; one key per request adds 50-100.
            "entries",
            "new keys on re-reads, per 100",
            "new_keys_per_100_rereads",
            "<=1",
            10,
            "Key by page (and version), never by request: no counters, timestamps or "
            "random parts in keys.",
        ),
    ),
)
