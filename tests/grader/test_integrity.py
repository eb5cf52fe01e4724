"""Ways to game or break the grader, each closed: every one ends as a clean failure or
error with its reason — never a pass, never a hang, never a process left behind."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from perfkata.bench.thresholds import Outcome
from perfkata.errors import LearnerCodeError
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.n_plus_one_blog import KATA

LEARNERS = Path(__file__).parents[1] / "learners" / "n_plus_one_blog"


def graded(name: str, seed: int = 3, **options):
    return grade(KATA, LEARNERS / name, GradeOptions(seed=seed, timing=False, **options))


def test_running_the_reference_from_the_learners_process_is_refused():
    with pytest.raises(LearnerCodeError, match="reference solutions are not readable"):
        graded("imports_reference.py")


def test_an_answer_saved_by_an_earlier_grade_fails_the_next_seed():
    folder = Path(tempfile.gettempdir()) / "perfkata-test-replayed-answers"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        first = graded("replays_answer.py", seed=1)
        assert first.measurements["learner"].correct  # computed fresh: right
        second = graded("replays_answer.py", seed=2)
        assert second.gate_failed and second.score == 0  # replayed: wrong for this seed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_learner_sees_none_of_the_graders_secrets(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    with pytest.raises(LearnerCodeError, match=r"environment seen: \[\]"):
        graded("reads_secrets.py")


def test_ten_gibibytes_is_a_memory_error_at_the_line():
    with pytest.raises(LearnerCodeError, match="MemoryError") as caught:
        graded("allocates_too_much.py")
    assert caught.value.line == 5


def test_sys_exit_with_stdout_closed_is_an_error_not_a_pass():
    with pytest.raises(LearnerCodeError) as caught:
        graded("exits_politely.py")
    assert "called sys.exit(0) while running render_index" in caught.value.message


def test_forked_children_die_with_the_timed_out_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with pytest.raises(LearnerCodeError, match="did not finish within 2 s"):
        graded("forks_children.py", timeout=2)
    pids = [int(p) for p in (tmp_path / "perfkata-test-forked-pids").read_text().split()]
    assert len(pids) == 3
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for init to reap it is dead for our purpose.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_reference_graded_as_the_learner_is_not_blocked_by_the_guard():
    result = grade(
        KATA,
        LEARNERS.parents[2] / "solutions" / "n-plus-one-blog" / "blog.py",
        GradeOptions(seed=3, timing=False),
    )
    assert result.verdict is Outcome.PASS
