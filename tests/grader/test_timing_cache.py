"""The cache of the starter's and reference's counters: reused for a seed it never
counted only once two seeds gave the same counters, and out of the learner's reach."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfkata.grader.counter_cache import CounterCache
from perfkata.grader.grade import GradeOptions, needed

PARTS = {"kata": "k", "sizes": [50, 800], "memory_sizes": [800], "backend": "sqlite"}


def entry(statements: int, peak: int = 1000) -> dict:
    return {"counters": {"800": {"statements": statements, "peak_bytes": peak}}}


def test_an_entry_is_found_for_its_own_seed_only_until_a_second_seed_agrees(tmp_path):
    # Given one solution counted at seed 1
    cache, solution = CounterCache(tmp_path), tmp_path / "ref.py"
    solution.write_text("x = 1\n")
    cache.put(PARTS, solution, 1, entry(3))
    # Then seed 1 finds it and seed 2 does not (the counters might depend on the data)
    assert cache.get(PARTS, solution, 1) is not None
    assert cache.get(PARTS, solution, 2) is None
    # When seed 2 gives the same deterministic counters (memory may wobble)
    cache.put(PARTS, solution, 2, entry(3, peak=1200))
    # Then any seed finds them
    assert cache.get(PARTS, solution, 99)["counters"]["800"]["statements"] == 3


def test_counters_that_depend_on_the_seed_are_never_reused_for_another(tmp_path):
    cache, solution = CounterCache(tmp_path), tmp_path / "ref.py"
    solution.write_text("x = 1\n")
    cache.put(PARTS, solution, 1, entry(3))
    cache.put(PARTS, solution, 2, entry(4))
    assert cache.get(PARTS, solution, 99) is None


def test_a_changed_solution_file_misses_the_cache(tmp_path):
    cache, solution = CounterCache(tmp_path), tmp_path / "ref.py"
    solution.write_text("x = 1\n")
    cache.put(PARTS, solution, 1, entry(3))
    solution.write_text("x = 2\n")
    assert cache.get(PARTS, solution, 1) is None


def test_the_learners_worker_cannot_open_the_cache(tmp_path):
    # Given the guard a learner's worker installs
    (tmp_path / "entry.json").write_text("{}")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from perfkata.isolation import forbid_reading\n"
        f"forbid_reading([Path({str(tmp_path)!r})])\n"
        f"open({str(tmp_path / 'entry.json')!r}, 'w')\n"
    )
    # When its code tries to rewrite an entry
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    # Then it is refused
    assert done.returncode != 0 and "off limits while grading" in done.stderr
    assert Path(tmp_path / "entry.json").read_text() == "{}"


@dataclass
class Store:
    found: dict


@pytest.mark.parametrize(
    ("timing", "cached", "started"),
    [
        (True, {"reference": 1, "starter": 1}, ["starter", "learner", "reference"]),
        (False, {}, ["learner", "reference"]),
        (False, {"reference": 1}, ["learner"]),
    ],
)
def test_only_the_workers_a_grade_needs_are_started(timing, cached, started):
    # Timing needs all three; without it the starter is never needed, the reference
    # only when its counters are not cached
    assert needed(GradeOptions(timing=timing), Store(cached)) == started  # type: ignore[arg-type]
