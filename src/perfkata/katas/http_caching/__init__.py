"""The http-caching kata: ETag / Last-Modified validators computed without rendering,
304s, and Cache-Control per resource that never lets a shared cache hand one user's
page to another — graded by real HTTP caches (hishel over httpx) in the grader's process."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.resources import files
from types import ModuleType
from typing import Any

from sqlalchemy.engine import Engine

from perfkata.katas.base import Backends, Check, RunEnv, define_kata
from perfkata.katas.effects import TimedEffect
from perfkata.katas.http_caching import data
from perfkata.katas.http_caching.server import (
    WORKER_OPS,
    timed_answers,
    timed_plan,
    timed_revalidations,
)
from perfkata.katas.http_caching.shop import Shop, remembered_summary

# each kind of the gate's faults in a word (replay.ORDER), for its one-line summary
KINDS = {
    "leak": "another user's",
    "stored": "kept by the shared cache",
    "vary": "the other language's",
    "lifetime": "a lifetime past the rule",
    "stale": "too stale",
    "wrong": "wrong",
}


def verify_stream(dataset: data.ShopData, output: Any) -> str | None:
    """Any response a client ended up with that was not the shop's (stale past the rule,
    another language's, another user's), or a lifetime past the rule, is a wrong answer:
    said in one line with a count per route and kind; the first of each is a note below
    (report.notes), so no line says the same twice."""
    if not isinstance(output, dict) or "violations" not in output:
        return "wrong output: the run produced no report of its responses"
    if output["violations"] == 0:
        return None
    counts = ", ".join(
        f"{count} on GET {route} ({KINDS.get(kind, kind)})"
        for kind, route, count in output.get("faults", ())
    )
    return f"{output['violations']} responses broke the shop's rules: {counts}; the first of each:"


def verify_timed(dataset: data.ShopData, answers: Any) -> str | None:
    """Each timed revalidation answered 304, or 200 with the shop's page."""
    oracle = Shop(dataset, remembered_summary)  # every timed call is checked: renders memoised
    users = {f"Bearer {u['token']}": u["id"] for u in dataset.users}
    plan = timed_plan(len(dataset.products), dataset.seed)
    if not isinstance(answers, list) or len(answers) != len(plan):
        return "the timed revalidations were not all answered"
    for (path, headers), (status, body) in zip(plan, answers, strict=True):
        if status == 304:
            continue
        parts = path.strip("/").split("/")
        number = int(parts[1])
        if parts[0] == "users":
            want = (
                oracle.render_dashboard(number)
                if users[headers["Authorization"]] == number
                else None
            )
        elif parts[-1] == "reviews":
            want = oracle.render_reviews(number)
        else:
            want = oracle.render_product(number, headers["Accept-Language"])
        try:
            got = json.loads(body.encode("latin-1"))
        except ValueError:
            got = None
        if status != 200 or got != want:
            return f"GET {path} answered {status} with a body that is not the shop's page"
    return None


def in_process(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    """The whole stream in one process (profile, tests): the worker's ops called directly."""
    from perfkata.katas.http_caching.replay import replay

    store: dict[str, Any] = {}

    def call(request: dict[str, Any]) -> Any:
        return WORKER_OPS[request["name"]](module, store, request["args"])

    entry = replay(call, env.size, env.seed)
    env.counters.update(entry["counters"])
    env.notes.extend((d["metric"], d["message"]) for d in entry["diagnostics"])
    output: dict[str, Any] = entry["output"]
    return output


def driven(call: Any, size: int, seed: int, serve: float | None = None) -> dict[str, Any]:
    """The grade's counted run, from the grader's process (grader.grade.counted_in_steps);
    `serve`: over a loopback HTTP server, with this timeout per request."""
    from perfkata.katas.http_caching.replay import replay

    entry: dict[str, Any] = replay(call, size, seed, serve)
    return entry


@contextmanager
def timing_services(engine: Engine, backends: Backends) -> Iterator[Mapping[str, Any]]:
    yield {"primed": {}}  # apps and their validators, kept across timing samples


HINTS = (
    "Start with validators: give every 200 an ETag (or Last-Modified) computed from the "
    "rows the page shows — shop.product(id).version, its reviews' ids and versions — "
    "never from the rendered body, which costs the render you want to skip.",
    "Answer 304 before rendering: build a Response, response.set_etag(tag) (and/or "
    "response.last_modified = …), then response.make_conditional(request); if its "
    "status_code is 304, return it as it is; render only otherwise.",
    "Cache-Control per resource: the catalog is the same for everyone, so "
    "`public, max-age=60` (the clients send Authorization: without `public` a shared "
    "cache may not store it); a dashboard is one user's: `private, no-cache`.",
    "The product page's text depends on Accept-Language: say `Vary: Accept-Language`, "
    "or a shared cache serves German to English readers. And a new or edited review "
    "changes the product page's rating: its validator must change too.",
)

KATA = define_kata(
    slug="http-caching",
    title="The API that renders every poll",
    difficulty="intermediate",
    summary="ETags and Last-Modified without rendering, 304s, and Cache-Control that never "
    "leaks a private page through a shared cache.",
    files=("api.py",),
    entry_points=("create_app",),
    sizes=(40,),
    hints=HINTS,
    brief=files(__package__).joinpath("brief.md").read_text(encoding="utf-8"),
    models=data.Base,
    generate=data.generate,
    load=data.load,
    verify=verify_stream,
    workload=in_process,
    environment=timing_services,
    timed=timed_revalidations,
    extras={
        "verify_words_itself": True,
        "driven": driven,
        "worker_ops": WORKER_OPS,
        "timed_effects": {"timed": TimedEffect(timed_answers, verify_timed)},
    },
    rubric=(
        Check.of(
            "fresh",
            "responses wrong, too stale, or another user's",
            "violations",
            "==0",
            30,
            "Every page a client gets must be the shop's, at most 60 s late for the catalog "
            "and current for a dashboard, and never another user's (see above).",
            gate=True,
        ),
        Check.of(
            "no-render-on-304",
            "renders on 304 answers",
            "renders_on_304",
            "==0",
            15,
            "Compute validators from the rows' versions and answer 304 before rendering.",
        ),
        Check.of(
            "304s",
            "unchanged revalidations answered 304",
            "revalidated_304_ratio",
            ">=0.9",
            15,
            "Send an ETag or Last-Modified and answer If-None-Match / If-Modified-Since "
            "with 304 when the page has not changed.",
        ),
        Check.of(
            "renders",
            "renders per catalog request",
            "renders_per_request",
            "<=1.5*ref",
            10,
            "Render only what changed: let caches keep pages (Cache-Control) and "
            "revalidate them (validators, 304).",
        ),
        Check.of(
            "bytes",
            "bytes over the wire per catalog request",
            "bytes_per_request",
            "<=1.5*ref",
            10,
            "A 304 carries no body, and a page a cache may reuse is not sent at all.",
        ),
        Check.of(
            "shared-cache",
            "requests answered by the shared cache",
            "shared_hit_ratio",
            ">=0.5*ref",
            10,
            "Let the shared cache keep the catalog: Cache-Control: public, max-age=60.",
        ),
        Check.of(
            "speedup",
            "catalog revalidation vs starter's render",
            "speedup",
            ">=0.3*ref & >=2",
            10,
            "A catalog revalidation (GET /products/<id> or /products/<id>/reviews with the "
            "validators your app gave) should cost a lookup of versions, not a render.",
        ),
    ),
)
