"""The catalog kata's own pieces on diskcache and Redis: the stream, exact statement
counts of the starter, and the reference's counters."""

from collections import Counter

import pytest

from perfkata.bench.cache import open_cache
from perfkata.bench.clock import FakeClock
from perfkata.bench.together import release_together
from perfkata.grader.grade import solution_paths
from perfkata.grader.worker import WorkerState, op_load, rebuild, run_once, run_scenarios
from perfkata.katas.cached_catalog import KATA
from perfkata.katas.cached_catalog.stream import WRITE_KINDS, requests
from perfkata.katas.cached_catalog.workload import STREAM_LENGTH

SIZE, SEED = KATA.sizes[0], 4


@pytest.fixture
def worker(redis_url, tmp_path):
    def loaded(variant: str) -> WorkerState:
        state = WorkerState(scratch=tmp_path)
        path = solution_paths(KATA, tmp_path)[variant]
        op_load(state, {"kata": KATA.slug, "module": str(path), "redis_url": redis_url})
        rebuild(state, SIZE, SEED)
        return state

    return loaded


def run_stream(state: WorkerState) -> tuple[dict, dict]:
    with state.services() as services:
        output, env = run_once(state, services)
    return output, env.counters


def test_stream_has_every_write_kind_each_followed_by_the_pages_it_changes():
    stream = requests(SIZE, SEED, STREAM_LENGTH)
    writes = [i for i, r in enumerate(stream) if not r.is_read]
    kinds = ["review" if stream[i].kind == "review" else dict(stream[i].changes) for i in writes]
    assert len(writes) == len(WRITE_KINDS)
    assert sum(1 for k in kinds if k == "review") == 2
    for index in writes:
        product = stream[index].args[0]
        follow = stream[index + 1 : index + 4]
        assert [r.kind for r in follow] == ["product", "featured", "listing"]
        assert follow[0].args == (product,)
    assert requests(SIZE, SEED, STREAM_LENGTH) == stream
    assert requests(SIZE, SEED + 1, STREAM_LENGTH) != stream


def test_starter_queries_on_every_read_and_is_never_stale(worker):
    output, counters = run_stream(worker("starter"))
    stream = requests(SIZE, SEED, STREAM_LENGTH)
    kinds = Counter(r.kind for r in stream if r.is_read)
    # a product page: product, category, ratings; featured and listings: scores, rows
    per_pass = 3 * kinds["product"] + 2 * kinds["featured"] + 2 * kinds["listing"]
    assert counters["statements_per_read"] == round(per_pass / sum(kinds.values()), 4)
    assert output["stale_reads"] == 0
    assert counters["hit_ratio"] == 0.0 and counters["cache_entries"] == 0


def test_reference_is_fresh_cached_bounded_and_builds_once(worker):
    state = worker("reference")
    output, counters = run_stream(state)
    assert output["stale_reads"] == 0
    assert counters["statements_per_read"] <= 0.1
    assert counters["hit_ratio"] >= 0.85
    scenarios, notes = run_scenarios(state)
    assert scenarios == {"stampede_builds": 1, "ttl_violations": 0}
    assert notes == []


def test_starter_builds_once_per_visitor_in_a_stampede(worker):
    assert run_scenarios(worker("starter"))[0]["stampede_builds"] == 16.0


def test_reference_stream_on_every_database_and_cache(db_url, redis_url, tmp_path):
    from perfkata.grader.database import drop_schema, new_schema_name

    schema = new_schema_name() if db_url else None
    state = WorkerState(scratch=tmp_path)
    path = solution_paths(KATA, tmp_path)["reference"]
    request = {
        "kata": KATA.slug,
        "module": str(path),
        "db_url": db_url,
        "schema": schema,
        "redis_url": redis_url,
    }
    try:
        op_load(state, request)
        rebuild(state, SIZE, SEED)
        output, counters = run_stream(state)
        assert output["stale_reads"] == 0 and counters["hit_ratio"] >= 0.85
    finally:
        if state.engine is not None:
            state.engine.dispose()
        if db_url and schema:
            drop_schema(db_url, schema)


def test_add_is_atomic_so_it_can_serve_as_a_lock(redis_url, tmp_path):
    # Given 16 threads adding the same absent key at once (a hand-made lock)
    with open_cache(redis_url, tmp_path / "cache", FakeClock()) as cache:
        won = release_together(16, lambda: cache.add("building:page", 1, timeout=10))
        # Then exactly one gets it (an unconditional delete of "expired" entries let two win)
        assert sum(won) == 1
        # And an entry seen expired is replaced by exactly one of the racers too
        cache.clock.advance(11)  # type: ignore[attr-defined]
        assert sum(release_together(16, lambda: cache.add("building:page", 2))) == 1


def test_a_stampede_counts_builds_not_the_statements_of_the_read_path(tmp_path):
    # Given the reference with one more statement on every product read (a category look-up)
    source = (solution_paths(KATA, tmp_path)["reference"]).read_text()
    extra = source.replace(
        "def product_page(session, cache, product_id):\n",
        "def product_page(session, cache, product_id):\n    category_of(session, product_id)\n",
    )
    path = tmp_path / "catalog.py"
    path.write_text(extra)
    state = WorkerState(scratch=tmp_path)
    op_load(state, {"kata": KATA.slug, "module": str(path)})
    rebuild(state, SIZE, SEED)
    # When 16 visitors arrive together on a cold page
    counters, _ = run_scenarios(state)
    # Then one build is counted, not 16 extra statements' worth of builds
    assert counters["stampede_builds"] == 1


def test_rereading_cached_pages_adds_keys_only_for_per_request_keys(worker):
    _, reference = run_stream(worker("reference"))
    assert reference["new_keys_per_100_rereads"] == 0
