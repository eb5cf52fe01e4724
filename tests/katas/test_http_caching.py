"""The http-caching kata's own pieces: the stream, the oracle's judgement of what a client
ends up with, the lifetimes it reads from headers, and exact counts of the starter's
and reference's runs (in one process; tests/grader/test_http_learners.py grades through
worker processes)."""

import re
from pathlib import Path

import httpx
import pytest

from perfkata.errors import LearnerCodeError
from perfkata.grader.grade import solution_paths
from perfkata.grader.loading import load_module
from perfkata.katas.base import RunEnv
from perfkata.katas.http_caching import KATA, in_process, verify_stream, verify_timed
from perfkata.katas.http_caching import stream as stream_module
from perfkata.katas.http_caching.data import generate
from perfkata.katas.http_caching.replay import (
    RouteStats,
    expires_before_date,
    explicit_lifetime,
    shared_may_store,
)
from perfkata.katas.http_caching.report import never_shared, timed_notes
from perfkata.katas.http_caching.server import (
    call_app,
    make_app,
    timed_plan,
    timed_revalidations,
)
from perfkata.katas.http_caching.shop import Shop
from perfkata.katas.http_caching.stream import REREADS_AFTER_EDIT, affected_paths, stream

SIZE, SEED = KATA.sizes[0], 4
DATE = "Thu, 15 Jan 2027 08:00:00 GMT"
LEARNERS = Path(__file__).parents[1] / "learners" / "http_caching"


def run(path: Path) -> tuple[dict, dict, list]:
    module = load_module(path, KATA.entry_points)
    env = RunEnv(None, None, {}, SIZE, SEED)  # type: ignore[arg-type]
    output = in_process(module, env)
    return output, env.counters, env.notes


@pytest.fixture(scope="module", autouse=True)
def short_stream():
    """Half the graded stream's length: the same kinds of events, half the time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stream_module, "STREAM_SECONDS", 210)
        yield


@pytest.fixture(scope="module")
def starter():
    return run(solution_paths(KATA, Path("."))["starter"])


@pytest.fixture(scope="module")
def reference():
    return run(solution_paths(KATA, Path("."))["reference"])


def test_stream_interleaves_every_edit_kind_and_rereads_what_each_changed():
    data = generate(SIZE, SEED)
    events = stream(SIZE, data, SEED)
    edits = [e for e in events if e.is_edit]
    assert {e.edit["kind"] for e in edits} == {"price", "review", "review_edit", "rename"}
    times = [e.at for e in events]
    assert times == sorted(set(times))  # one event per second of the shop's clock
    reads = {(e.at, e.path) for e in events if not e.is_edit}
    for edit in edits:
        for path in affected_paths(edit.edit):
            later = [at for at, p in reads if p == path and at > edit.at]
            assert any(at - edit.at > REREADS_AFTER_EDIT[1] - 5 for at in later)
    peeks = [e for e in events if e.path.endswith("/dashboard") and f"/{e.user}/" not in e.path]
    assert len(peeks) >= 5  # users open other users' dashboards
    assert stream(SIZE, data, SEED) == events
    assert stream(SIZE, generate(SIZE, SEED + 1), SEED + 1) != events


def test_starter_renders_every_request_it_may_answer_and_no_cache_helps(starter):
    output, counters, notes = starter
    events = [e for e in stream(SIZE, generate(SIZE, SEED), SEED) if not e.is_edit]
    peeks = sum(1 for e in events if e.path.startswith("/users/") and f"/{e.user}/" not in e.path)
    assert output["violations"] == 0  # correct: nothing is cached, nothing is stale
    assert counters["requests"] == counters["origin_requests"] == len(events)
    assert counters["renders"] == len(events) - peeks  # a 403 renders nothing
    assert counters["renders_per_request"] == 1.0
    assert counters["shared_hit_ratio"] == counters["revalidated_304_ratio"] == 0.0
    said = [message for metric, message in notes if metric == "revalidated_304_ratio"]
    assert "GET /products/<id> sends no ETag or Last-Modified (no caching headers)" in said[0]


def test_reference_revalidates_without_rendering_and_lets_the_cdn_answer(reference, starter):
    output, counters, notes = reference
    assert output["violations"] == 0 and verify_stream(generate(SIZE, SEED), output) is None
    assert counters["renders_on_304"] == 0
    assert counters["revalidated_304_ratio"] >= 0.95
    assert counters["shared_hit_ratio"] > 0.1
    assert counters["origin_requests"] < counters["requests"]
    assert counters["renders_per_request"] < 0.5 * starter[1]["renders_per_request"]
    assert counters["bytes_per_request"] < 0.6 * starter[1]["bytes_per_request"]
    assert notes == []


def test_the_gate_names_the_route_header_and_users_of_a_leaked_dashboard():
    output, counters, _ = run(LEARNERS / "public_dashboard.py")
    assert counters["leaks"] > 0
    said = verify_stream(generate(SIZE, SEED), output)
    assert said is not None and said.startswith(f"{output['violations']} responses broke")
    first = output["first"][0]
    assert "/dashboard is stored by the shared cache (Cache-Control: public, max-age=30" in first
    assert "'s dashboard at request " in first
    lifetime = [m for m in output["first"] if m.startswith("GET /users/<id>/dashboard may be")]
    assert len(lifetime) == 1
    assert lifetime[0].startswith(
        "GET /users/<id>/dashboard may be served by a cache for 30 s without asking "
        "(Cache-Control: public, max-age=30, "
    )
    assert lifetime[0].endswith(
        "at most 0 s late: say max-age=0 (or no-cache) so every reuse is revalidated"
    )


@pytest.mark.parametrize(
    ("headers", "life"),
    [
        ({"Cache-Control": "public, max-age=60"}, 60),
        ({"Cache-Control": "max-age=0, s-maxage=90"}, 90),  # a shared cache's lifetime
        ({"Cache-Control": "private, max-age=10, s-maxage=90"}, 10),  # no shared cache stores it
        ({"Cache-Control": "public, no-cache, max-age=600"}, 0),
        ({"Cache-Control": "no-store"}, 0),
        ({"Expires": "Thu, 15 Jan 2027 08:02:00 GMT", "Date": DATE}, 120),
        ({"Expires": "0", "Date": DATE}, 0),  # §5.3: an invalid Expires means expired
        ({"ETag": '"a"'}, None),
    ],
)
def test_the_longest_lifetime_any_cache_may_give_a_response(headers, life):
    assert explicit_lifetime(httpx.Headers(headers)) == life


def test_timed_revalidations_are_checked_against_the_oracle():
    data = generate(SIZE, SEED)
    module = load_module(solution_paths(KATA, Path("."))["reference"], KATA.entry_points)
    app = make_app(module, Shop(data))
    plan = timed_plan(SIZE, SEED)
    answers = [[s, b.decode("latin-1")] for s, _, b in (call_app(app, p, h) for p, h in plan)]
    assert verify_timed(data, answers) is None
    answers[1] = [200, '{"wrong": true}']
    assert verify_timed(data, answers) == (
        f"GET {plan[1][0]} answered 200 with a body that is not the shop's page"
    )
    assert verify_timed(data, answers[:3]) == "the timed revalidations were not all answered"


# --- what a learner's grade exposed (staging/learner-http-caching/REPORT.md) ---------
def counted_thresholds_met(counters: dict, ref: dict) -> bool:
    """The counted checks' thresholds (KATA.rubric), against the reference's counters."""
    return (
        counters["violations"] == 0
        and counters["renders_on_304"] == 0
        and counters["revalidated_304_ratio"] >= 0.9
        and counters["renders_per_request"] <= 1.5 * ref["renders_per_request"]
        and counters["bytes_per_request"] <= 1.5 * ref["bytes_per_request"]
        and counters["shared_hit_ratio"] >= 0.5 * ref["shared_hit_ratio"]
    )


@pytest.mark.parametrize(
    "name",
    [
        "md5_versions_no_store_dashboard.py",  # no-store dashboards, s-maxage split
        "strong_sha256_werkzeug.py",  # strong ETags through Werkzeug's helpers
        "last_modified_make_conditional.py",  # Last-Modified only, make_conditional
    ],
)
def test_the_learners_correct_shapes_meet_every_counted_threshold(name, reference):
    output, counters, notes = run(LEARNERS / name)
    assert counted_thresholds_met(counters, reference[1]), counters
    assert verify_stream(generate(SIZE, SEED), output) is None
    if name.startswith("md5"):  # a note for a check it passes, shown only if it failed
        assert notes == [
            (
                "revalidated_304_ratio",
                "GET /users/<id>/dashboard sends no ETag or Last-Modified (Cache-Control: "
                "no-store): no cache can revalidate it, so every expired copy costs a full "
                "render and a full body",
            )
        ]
    else:
        assert notes == []


def timed_answers_of(path: Path) -> list[tuple[int, bytes]]:
    module = load_module(path, KATA.entry_points)
    env = RunEnv(None, None, {"primed": {}}, SIZE, SEED)  # type: ignore[arg-type]
    steps = timed_revalidations(module, env)
    answers = [(status, body) for status, _, body in next(steps)()]
    steps.close()
    return answers


def test_the_timed_requests_are_catalog_revalidations_so_a_no_store_dashboard_passes():
    plan = timed_plan(SIZE, SEED)
    assert len(plan) == 30
    assert sum(path.endswith("/reviews") for path, _ in plan) == 15
    assert not any("/users/" in path for path, _ in plan)
    assert {h["Accept-Language"] for _, h in plan} == {"en", "de"}
    no_store = timed_answers_of(LEARNERS / "md5_versions_no_store_dashboard.py")
    assert [status for status, _ in no_store] == [304] * 30
    assert all(body == b"" for _, body in no_store)
    starter = timed_answers_of(solution_paths(KATA, Path("."))["starter"])
    assert [status for status, _ in starter] == [200] * 30  # full renders, no validators


def test_the_gate_names_every_broken_route_once_with_its_count():
    output, counters, notes = run(LEARNERS / "validator_ignores_reviews_everywhere.py")
    faults = output["faults"]
    assert {route for _, route, _ in faults} == {
        "/products/<id>",
        "/products/<id>/reviews",
        "/users/<id>/dashboard",
    }
    assert {kind for kind, _, _ in faults} == {"stale"}
    assert sum(count for _, _, count in faults) == output["violations"] == counters["violations"]
    said = verify_stream(generate(SIZE, SEED), output)
    counts = ", ".join(f"{n} on GET {route} (too stale)" for _, route, n in faults)
    assert said == (
        f"{output['violations']} responses broke the shop's rules: {counts}; the first of each:"
    )
    gate = [message for metric, message in notes if metric == "violations"]
    assert len(gate) == 3
    for (_, route, count), message in zip(faults, gate, strict=True):
        assert message.endswith(f" [{count} like this on GET {route}]")
        assert "received the page as it was before" in message
        assert message not in said  # told once, under the summary


def test_a_dashboard_a_shared_cache_may_store_fails_the_gate_though_none_leaked():
    output, counters, _ = run(LEARNERS / "public_no_cache_dashboard.py")
    assert counters["leaks"] == 0
    assert [(kind, route) for kind, route, _ in output["faults"]] == [
        ("stored", "/users/<id>/dashboard")
    ]
    assert output["faults"][0][2] == output["violations"] > 0
    assert (
        "is kept by the shared cache (Cache-Control: public, no-cache, ETag:"
        in (output["first"][0])
    )
    assert output["first"][0].endswith("must say Cache-Control: private (or no-store)")


@pytest.mark.parametrize(
    ("cache_control", "stored"),
    [
        ("public, no-cache", True),
        ("no-cache, must-revalidate", True),  # §3.5: must-revalidate allows it
        ("s-maxage=0", True),
        ("private, must-revalidate", False),
        ("public, no-store", False),
        ("no-cache", False),  # the request carried Authorization
        ("max-age=0", False),
    ],
)
def test_what_a_shared_cache_may_store_of_a_request_with_authorization(cache_control, stored):
    assert shared_may_store(httpx.Headers({"Cache-Control": cache_control})) is stored


def test_an_expires_from_the_apps_clock_is_said_to_be_before_the_shops_date():
    output, counters, notes = run(LEARNERS / "expires_wall_clock.py")
    assert output["violations"] == 0
    assert counters["shared_hit_ratio"] == 0.0
    said = [message for metric, message in notes if metric == "shared_hit_ratio"]
    assert len(said) == 2  # products and reviews
    for message in said:
        assert "is at or before the response's Date (" in message
        assert "so every copy is stale on arrival — say max-age or s-maxage" in message
        assert "only when it says Cache-Control: public" not in message
    later = httpx.Headers({"Cache-Control": "public", "Expires": DATE, "Date": DATE})
    assert expires_before_date(later)
    later["Cache-Control"] = "public, max-age=60"  # max-age overrides Expires (§5.3)
    assert not expires_before_date(later)


def test_a_learners_error_names_the_request_it_was_answering():
    with pytest.raises(LearnerCodeError) as caught:
        run(LEARNERS / "typo_in_dashboard.py")
    message = caught.value.message
    assert message.startswith("AttributeError: 'User' object has no attribute 'verison' at ")
    assert re.search(r"\(in dashboard\), while answering GET /users/\d+/dashboard\.$", message)
    assert caught.value.line == 71


@pytest.mark.parametrize(
    ("stats", "says"),
    [
        (RouteStats(origin=5), "GET /products/<id> sends no ETag or Last-Modified (x): its timed"),
        (
            RouteStats(origin=5, validators=True, renders_on_304=4, answered_304=4),
            "GET /products/<id> rendered a body 4 times for its 4 answers 304: its timed",
        ),
        (RouteStats(origin=5, validators=True), None),
    ],
)
def test_the_timed_checks_notes_name_the_catalog_route_that_renders(stats, says):
    found = [n["message"] for n in timed_notes("/products/<id>", stats, "x")]
    assert [m[: len(says)] for m in found] == ([says] if says else [])
    assert all(n["metric"] == "speedup" for n in timed_notes("/products/<id>", stats, "x"))


@pytest.mark.parametrize(
    ("cache_control", "says"),
    [
        ("public", "it may be stored, but gives no lifetime (no max-age or s-maxage)"),
        ("public, no-cache", "it may be stored, but its lifetime is 0"),
        ("max-age=60", "the clients send Authorization, so a shared cache stores the page only"),
    ],
)
def test_why_the_shared_cache_never_answered_is_read_from_the_headers(cache_control, says):
    stats = RouteStats(requests=3, origin=3)
    stats.last_headers = httpx.Headers({"Cache-Control": cache_control, "Date": DATE})
    said = never_shared("/products/<id>", stats)
    assert said.startswith(
        f"GET /products/<id> was never answered by the shared cache (Cache-Control: "
        f"{cache_control}): {says}"
    )
