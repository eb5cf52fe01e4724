"""The counted run's figures and the sentences that explain a failed check, per route and
header: what the wire carried, what the caches answered, what the app rendered."""

from __future__ import annotations

from typing import Any

import httpx

from perfkata.katas.http_caching.oracle import LIMITS
from perfkata.katas.http_caching.replay import (
    DASHBOARD,
    Judge,
    RouteStats,
    cache_control,
    expires_before_date,
    explicit_lifetime,
    shown,
)


def counters(judge: Judge, renders: int) -> dict[str, float]:
    """Renders and bytes are judged on the catalog's requests (products and reviews): a
    dashboard may rightly be `no-store`, rendered and sent in full on every view."""
    routes = judge.routes.values()
    requests = sum(r.requests for r in routes) or 1
    catalog = [r for name, r in judge.routes.items() if name != DASHBOARD]
    catalog_requests = sum(r.requests for r in catalog) or 1
    unchanged = sum(r.unchanged_revalidations for r in routes)
    return {
        "violations": sum(judge.violations.values()),
        "leaks": judge.violations["leak"],
        "requests": requests,
        "origin_requests": sum(r.origin for r in routes),
        "renders": renders,
        "renders_per_request": round(sum(r.renders for r in catalog) / catalog_requests, 4),
        "renders_on_304": sum(r.renders_on_304 for r in routes),
        "bytes_per_request": round(sum(r.wire_bytes for r in catalog) / catalog_requests, 1),
        "all_bytes_per_request": round(sum(r.wire_bytes for r in routes) / requests, 1),
        "revalidations": unchanged,
        "revalidated_304_ratio": round(sum(r.unchanged_304 for r in routes) / unchanged, 4)
        if unchanged
        else 0.0,
        "shared_hit_ratio": round(sum(r.shared_answers for r in routes) / requests, 4),
    }


def note(metric: str, message: str) -> dict[str, Any]:
    return {"metric": metric, "message": message, "file": None, "line": None, "count": 0}


def notes(judge: Judge) -> list[dict[str, Any]]:
    """The gate's faults, one line per kind and route (the first told in full, with how
    many there were), then what each route's headers cost."""
    found = [
        note("violations", f"{message} [{count} like this on GET {route}]")
        for _, route, count, message in judge.told()
    ]
    for route, stats in sorted(judge.routes.items()):
        found += route_notes(route, stats)
    return found


def route_notes(route: str, stats: RouteStats) -> list[dict[str, Any]]:
    headers = shown(stats.last_headers) if stats.last_headers is not None else "no response"
    found = []
    if stats.renders_on_304:
        found.append(
            note(
                "renders_on_304",
                f"GET {route} rendered a body {stats.renders_on_304} times for its "
                f"{stats.answered_304} answers 304: a validator made from the rendered body "
                "still pays the render — derive the ETag (or Last-Modified) from the rows' "
                "version or updated_at, and compare before rendering",
            )
        )
    judged: tuple[str, ...] = ("revalidated_304_ratio",)
    if route != DASHBOARD:
        judged += ("bytes_per_request", "renders_per_request")
    if not stats.validators and stats.origin:
        for metric in judged:
            found.append(
                note(
                    metric,
                    f"GET {route} sends no ETag or Last-Modified ({headers}): no cache can "
                    "revalidate it, so every expired copy costs a full render and a full body",
                )
            )
    missed = stats.unchanged_revalidations - stats.unchanged_304
    # a validator made from versions may change with no visible change (an edited
    # review's text is not on the product page): a few 200s there are the price of it
    if stats.validators and missed > 0.1 * stats.unchanged_revalidations:
        for metric in judged:
            found.append(
                note(
                    metric,
                    f"GET {route} answered 200 with a full body to {missed} of "
                    f"{stats.unchanged_revalidations} revalidations of a page that had not "
                    f"changed (e.g. {stats.example_revalidation}): compare If-None-Match / "
                    "If-Modified-Since with the current validator and answer 304",
                )
            )
    if route != DASHBOARD and stats.requests and not stats.shared_answers:
        found.append(note("shared_hit_ratio", never_shared(route, stats)))
    if route != DASHBOARD:
        found += timed_notes(route, stats, headers)
    return found


def never_shared(route: str, stats: RouteStats) -> str:
    """Why the shared cache never answered a catalog route, from the headers it sent."""
    headers = stats.last_headers if stats.last_headers is not None else httpx.Headers()
    said = f"GET {route} was never answered by the shared cache ({shown(headers)})"
    if expires_before_date(headers):
        return (
            f"{said}: its Expires is at or before the response's Date "
            f"({headers.get('date')}, from the shop's clock, not your app's), so every copy "
            f"is stale on arrival — say max-age or s-maxage (at most {LIMITS[route]} s) "
            "instead of Expires"
        )
    cc = cache_control(headers)
    if "public" in cc or "s-maxage" in cc:
        if explicit_lifetime(headers) == 0:
            return (
                f"{said}: it may be stored, but its lifetime is 0 (no-cache, max-age=0 with "
                "no s-maxage), so every reuse asks the app — give it max-age or s-maxage of "
                f"at most {LIMITS[route]} s"
            )
        return (
            f"{said}: it may be stored, but gives no lifetime (no max-age or s-maxage) — say "
            f"max-age or s-maxage of at most {LIMITS[route]} s"
        )
    return (
        f"{said}: the clients send Authorization, so a shared cache stores the page only "
        f"when it says Cache-Control: public (with max-age or s-maxage of at most "
        f"{LIMITS[route]} s)"
    )


def timed_notes(route: str, stats: RouteStats, headers: str) -> list[dict[str, Any]]:
    """What makes a catalog route's timed revalidations cost a render (the timed check
    sends only catalog revalidations: a dashboard's policy is not timed)."""
    if stats.origin and not stats.validators:
        return [
            note(
                "speedup",
                f"GET {route} sends no ETag or Last-Modified ({headers}): its timed "
                "revalidations carry no validator, so each is a full render",
            )
        ]
    if stats.renders_on_304:
        return [
            note(
                "speedup",
                f"GET {route} rendered a body {stats.renders_on_304} times for its "
                f"{stats.answered_304} answers 304: its timed revalidations pay the render "
                "they should save",
            )
        ]
    return []
