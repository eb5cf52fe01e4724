"""Warm workers (grader/spares.py): a spare is taken by the grade it was started for, and
only by that one; it ends with that grade (or when nobody takes it); and a learner's
module always lands in a process no earlier grade's learner code ran in."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.grader import batch
from perfkata.grader.grade import GradeOptions, grade, solution_paths, start_spares
from perfkata.grader.spares import Spares
from perfkata.katas.n_plus_one_blog import KATA

REFERENCE = solution_paths(KATA, Path())["reference"]
COUNTED = GradeOptions(seed=3, timing=False)


def spare_processes(spares: Spares) -> list:
    assert spares.pool is not None
    return [worker._proc for worker in spares.pool.workers.values()]


def test_settled_spares_answer_and_end_when_nobody_takes_them():
    with Spares() as spares:
        start_spares(spares, KATA, REFERENCE, GradeOptions(timing=True))
        assert sorted(spares.pool.workers) == ["learner", "reference", "starter"]
        spares.settle()  # each answered "ready": started, idle, not loaded
        assert spares.pool.settled
        processes = spare_processes(spares)
        assert all(proc.poll() is None for proc in processes)
    assert all(proc.poll() is not None for proc in processes)  # ended with the Spares
    assert spares.taken == 0


@pytest.mark.slow
def test_a_grade_takes_the_spares_started_for_it_and_they_end_with_it():
    with Spares() as spares:
        start_spares(spares, KATA, REFERENCE, COUNTED)
        processes = spare_processes(spares)
        result = grade(KATA, REFERENCE, GradeOptions(seed=3, timing=False, spares=spares))
        assert result.verdict is Outcome.PASS
        assert (spares.started, spares.taken, spares.pool) == (1, 1, None)
        assert all(proc.poll() is not None for proc in processes)  # gone with the grade


@pytest.mark.slow
def test_spares_for_another_solution_are_never_used(tmp_path):
    other = tmp_path / "blog.py"
    other.write_text(REFERENCE.read_text())
    with Spares() as spares:
        start_spares(spares, KATA, REFERENCE, COUNTED)
        processes = spare_processes(spares)
        result = grade(KATA, other, GradeOptions(seed=3, timing=False, spares=spares))
        assert result.verdict is Outcome.PASS
        assert spares.taken == 0
        assert all(proc.poll() is not None for proc in processes)


LEAK_CHECK = """
import sys
import types

# A process-wide mark: a learner's module loaded into a process an earlier grade's
# learner code ran in would find it.
if "perfkata_test_leak_mark" in sys.modules:
    raise RuntimeError("this process ran an earlier grade's learner code")
sys.modules["perfkata_test_leak_mark"] = types.ModuleType("perfkata_test_leak_mark")

"""


@pytest.mark.slow
def test_a_learner_never_meets_an_earlier_grades_process(tmp_path):
    """As watch does it: grade, start the next grade's spares, grade again with them."""
    learner = tmp_path / "blog.py"
    learner.write_text(LEAK_CHECK + REFERENCE.read_text())
    options = GradeOptions(seed=3, timing=False)
    with Spares() as spares:
        first = grade(KATA, learner, GradeOptions(seed=3, timing=False, spares=spares))
        start_spares(spares, KATA, learner, options)
        second = grade(KATA, learner, GradeOptions(seed=4, timing=False, spares=spares))
    assert (first.verdict, second.verdict) == (Outcome.PASS, Outcome.PASS)
    assert spares.taken == 1


@pytest.mark.slow
def test_grade_all_starts_the_next_katas_workers_ahead(monkeypatch):
    made: list[Spares] = []

    class Recorded(Spares):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(batch, "Spares", Recorded)
    work = [(KATA, REFERENCE), (KATA, REFERENCE)]
    outcomes = batch.grade_many(work, COUNTED)
    assert [o.verdict for o in outcomes] == ["pass", "pass"]
    assert (made[0].started, made[0].taken, made[0].pool) == (1, 1, None)


def test_a_spare_that_died_while_waiting_is_never_taken():
    """Its grade would read the end of a process no learner code ran in as the learner's."""
    with Spares() as spares:
        start_spares(spares, KATA, REFERENCE, GradeOptions(timing=True))
        processes = spare_processes(spares)
        spares.pool.workers["learner"].kill()
        assert spares.take(KATA.slug, solution_paths(KATA, REFERENCE), COUNTED.memory_limit) is None
        assert all(proc.poll() is not None for proc in processes)  # the rest ended too
        assert spares.taken == 0


def test_a_spare_that_failed_to_start_is_dropped_and_the_others_are_still_taken():
    """settle() drops a spare that cannot answer; its grade starts that worker itself."""
    with Spares() as spares:
        start_spares(spares, KATA, REFERENCE, GradeOptions(timing=True))
        spares.pool.workers["starter"].kill()
        spares.settle()
        assert sorted(spares.pool.workers) == ["learner", "reference"]
        pool = spares.take(KATA.slug, solution_paths(KATA, REFERENCE), COUNTED.memory_limit)
        assert pool is not None and sorted(pool.workers) == ["learner", "reference"]
        assert all(worker.running() for worker in pool.workers.values())
        assert spares.taken == 1
        pool.stack.close()
