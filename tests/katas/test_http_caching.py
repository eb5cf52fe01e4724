"""The http-caching kata's own pieces: the stream, the oracle's judgement of what a client
ends up with, the lifetimes it reads from headers, and exact counts of the starter's
and reference's runs (in one process; tests/grader/test_http_learners.py grades through
worker processes)."""

from pathlib import Path

import httpx
import pytest

from perfkata.grader.grade import solution_paths
from perfkata.grader.loading import load_module
from perfkata.katas.base import RunEnv
from perfkata.katas.http_caching import KATA, in_process, verify_stream, verify_timed
from perfkata.katas.http_caching import stream as stream_module
from perfkata.katas.http_caching.data import generate
from perfkata.katas.http_caching.replay import explicit_lifetime
from perfkata.katas.http_caching.server import call_app, make_app, timed_plan
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
