"""The kata's own pieces: the oracle against the starter, and exact statement counts for
the starter and the reference at each size, on SQLite and PostgreSQL."""

import math

import pytest

from perfkata.grader.database import drop_schema, new_schema_name
from perfkata.grader.grade import solution_paths
from perfkata.grader.worker import WorkerState, measure_size, op_load
from perfkata.katas.n_plus_one_blog import KATA, data

SEED = 5


@pytest.fixture
def load(db_url, tmp_path):
    schemas: list[str] = []

    def loaded(variant: str) -> WorkerState:
        state = WorkerState(scratch=tmp_path)
        path = solution_paths(KATA, tmp_path)[variant]
        schema = new_schema_name() if db_url else None
        schemas.extend([schema] if schema else [])
        op_load(state, {"kata": KATA.slug, "module": str(path), "db_url": db_url, "schema": schema})
        return state

    yield loaded
    for schema in schemas:
        drop_schema(db_url, schema)


def starter_statements(size: int) -> int:
    """1 for the posts, 1 per post for its comments, 1 per distinct user and category."""
    generated = data.generate(size, SEED)
    users = {p["author_id"] for p in generated.posts} | {c["author_id"] for c in generated.comments}
    return 1 + size + len(users) + len({p["category_id"] for p in generated.posts})


@pytest.mark.parametrize("size", KATA.sizes)
def test_starter_is_correct_and_runs_one_query_per_post_and_user(load, size):
    measured = measure_size(load("starter"), size, SEED, memory_seed=None)
    assert measured["output"] == data.expected_index(data.generate(size, SEED))
    assert measured["counters"]["statements"] == starter_statements(size)
    assert measured["counters"]["lazy_loads"] == starter_statements(size) - 1


@pytest.mark.parametrize("size", KATA.sizes)
def test_reference_runs_one_query_plus_one_per_500_posts(load, size):
    measured = measure_size(load("reference"), size, SEED, memory_seed=None)
    assert measured["output"] == data.expected_index(data.generate(size, SEED))
    assert measured["counters"]["statements"] == 1 + math.ceil(size / 500)
    assert measured["counters"]["lazy_loads"] == 0
    # nothing that explains a failed query check, and no note: its loaders are the cheapest
    assert [d for d in measured["diagnostics"] if d["metric"] != "speedup"] == []


def test_points_are_for_the_lesson_not_for_the_starters_correct_output():
    points = {check.id: check.points for check in KATA.rubric}
    gate = next(check for check in KATA.rubric if check.gate)
    assert gate.points == 0 and KATA.max_points == 100
    # what an untouched starter passes (no eager load, little memory) is worth little
    assert points["no-unused-eager"] + points["memory"] <= 15
    assert "statements-vs-reference" not in points  # closeness to the reference's shape


def test_generated_data_depends_on_the_seed():
    assert data.generate(50, 1) != data.generate(50, 2)
    assert data.generate(50, 1) == data.generate(50, 1)
