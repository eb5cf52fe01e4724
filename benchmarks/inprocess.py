"""A kata's solution loaded into this process the way a grader worker holds it, for the
scripts that time or count without the grader's worker processes around them."""

from __future__ import annotations

from pathlib import Path

from perfkata.grader.grade import solution_paths
from perfkata.grader.worker import WorkerState, op_load
from perfkata.katas.registry import get_kata


def loaded_worker(
    slug: str, variant: str, db_url: str | None = None, schema: str | None = None
) -> WorkerState:
    """The starter or reference of a kata, loaded; its SQLite file (if any) in a new
    temporary folder, or its tables in `schema` of `db_url`."""
    path = solution_paths(get_kata(slug), Path())[variant]
    state = WorkerState()
    op_load(state, {"kata": slug, "module": str(path), "db_url": db_url, "schema": schema})
    return state
