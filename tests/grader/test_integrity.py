"""Ways to game or break the grader, each closed: every one ends as a clean failure or
error with its reason — never a pass, never a hang, never a process left behind."""

import os
import re
import resource
import shutil
import time
from pathlib import Path

import pytest

from perfkata import fences
from perfkata.bench.thresholds import Outcome
from perfkata.errors import LearnerCodeError
from perfkata.grader import process
from perfkata.grader.grade import GradeOptions, grade
from perfkata.katas.n_plus_one_blog import KATA
from perfkata.katas.registry import get_kata

# one end-to-end grade per fence: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
LEARNERS = REPO / "tests" / "learners" / "n_plus_one_blog"
HANG_GUARD = 120.0  # only a hang reaches it; nothing here is a speed limit


def graded(name: str | Path, seed: int | None = 3, **options):
    return grade(KATA, LEARNERS / name, GradeOptions(seed=seed, timing=False, **options))


def learner(folder: Path, body: str) -> Path:
    """A blog solution whose render_index runs `body` (indented four spaces)."""
    path = folder / "blog.py"
    path.write_text("import os\nimport resource\n\n\ndef render_index(session):\n" + body)
    return path


def test_running_the_reference_from_the_learners_process_is_refused():
    with pytest.raises(LearnerCodeError, match="reference solutions are not readable"):
        graded("imports_reference.py")


def test_an_answer_saved_by_an_earlier_grade_fails_the_next_seed(monkeypatch):
    # Strict fences refuse the save itself (tests/integrity/test_fences_files.py); with
    # basic ones, which let it through, the fresh seed is the defence.
    monkeypatch.setenv("PERFKATA_FENCES", "basic")
    folder = Path("/tmp/perfkata-test-replayed-answers")  # where the cheat keeps them
    shutil.rmtree(folder, ignore_errors=True)
    try:
        graded("replays_answer.py", seed=1)  # computes its answers and saves them
        assert list(folder.glob("*.json"))
        second = graded("replays_answer.py", seed=2)
        assert second.gate_failed and second.score == 0  # replayed: wrong for this seed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_learner_sees_none_of_the_graders_secrets(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    with pytest.raises(LearnerCodeError, match=r"environment seen: \[\]"):
        graded("reads_secrets.py")


def test_three_gibibytes_is_a_memory_error_at_the_line(tmp_path):
    # 3 GiB, not 10: a limit raised to 4 GiB (or none) must let this through and fail here.
    path = learner(tmp_path, "    block = bytearray(3 * 1024**3)\n    return [len(block)]\n")
    with pytest.raises(LearnerCodeError, match="MemoryError") as caught:
        graded(path)
    assert caught.value.line == 6


FENCES = (
    "    raise RuntimeError(\n"
    "        f'as={resource.getrlimit(resource.RLIMIT_AS)[0]} '\n"
    "        f'nproc={resource.getrlimit(resource.RLIMIT_NPROC)[0]} '\n"
    "        f'hash={hash(\"x\")}'\n"
    "    )\n"
)


def fences_seen(path: Path) -> dict[str, int]:
    """The limits and hash seed inside the learner's worker, as its own code reads them."""
    with pytest.raises(LearnerCodeError) as caught:
        graded(path, seed=None)
    found = re.search(r"as=(-?\d+) nproc=(-?\d+) hash=(-?\d+)", caught.value.message)
    assert found, caught.value.message
    return {"as": int(found[1]), "nproc": int(found[2]), "hash": int(found[3])}


def test_the_worker_runs_under_2_gib_a_fixed_hash_seed_and_root_is_not_capped(tmp_path):
    # Given a learner that reports the fences it runs inside
    path = learner(tmp_path, FENCES)
    # When it is graded twice, in two fresh worker processes
    first, second = fences_seen(path), fences_seen(path)
    # Then it has a 2 GiB address space, and hash("x") is the same in both processes
    assert first["as"] == second["as"] == 2 * 1024**3
    assert first["hash"] == second["hash"]
    if os.geteuid() == 0:  # root ignores RLIMIT_NPROC: no cap is set, the group is killed
        assert process.process_cap() is None
        # ... unless the strict fences run the learner as a uid of its own, which is capped
        capped = fences.NPROC_CAP if fences.mode() == "strict" else None
        assert first["nproc"] == (capped or resource.getrlimit(resource.RLIMIT_NPROC)[0])


def test_a_user_who_is_not_root_gets_a_process_cap(tmp_path, monkeypatch):
    # Given a grader running as a uid that owns no process (as a learner's account would)
    monkeypatch.setattr(process.os, "geteuid", lambda: 2_000_000_001)
    # When the fences are read inside the worker
    seen = fences_seen(learner(tmp_path, FENCES))
    # Then its process cap is the user's processes (none) plus the kata's headroom of 64
    assert seen["nproc"] == 64


def test_the_seed_changes_every_grade_unless_given():
    reference = REPO / "solutions" / "n-plus-one-blog" / "blog.py"
    seeds = {grade(KATA, reference, GradeOptions(timing=False)).seed for _ in range(2)}
    assert len(seeds) == 2
    assert grade(KATA, reference, GradeOptions(seed=7, timing=False)).seed == 7


def test_a_wrong_cleanup_scores_0_though_other_checks_pass(tmp_path):
    # Given the cleanup reference with one job that deletes nothing
    kata = get_kata("cleanup-cron")
    path = tmp_path / kata.main_file
    source = (REPO / "solutions" / "cleanup-cron" / kata.main_file).read_text()
    broken = "def expire_sessions(session, now):\n    return 0\n"
    path.write_text(source.replace("def expire_sessions(session, now):\n", broken, 1))
    # When it is graded
    result = grade(kata, path, GradeOptions(seed=3, timing=False))
    # Then the gate fails, and checks that pass on their own earn nothing
    outcomes = {c.check.id: c.outcome for c in result.checks}
    assert outcomes["correct"] is Outcome.FAIL and result.gate_failed
    assert outcomes["schedule"] is Outcome.PASS and outcomes["batch-size"] is Outcome.PASS
    assert result.score == 0 and result.verdict is Outcome.FAIL


def test_sys_exit_with_stdout_closed_is_an_error_not_a_pass():
    with pytest.raises(LearnerCodeError) as caught:
        graded("exits_politely.py")
    assert "called sys.exit(0) while running render_index" in caught.value.message


def test_forked_children_die_with_the_timed_out_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    # The basic fences' process group (the pids are written where strict ones forbid it;
    # tests/integrity/test_fences_escape.py proves the PID namespace)
    monkeypatch.setenv("PERFKATA_FENCES", "basic")
    # The learner forks, then loops forever: the timeout must fire, however long loading
    # took on a busy machine, so it is generous (the test waits it out once).
    with pytest.raises(LearnerCodeError, match="did not finish within 15 s"):
        graded("forks_children.py", timeout=15)
    pids = [int(p) for p in (tmp_path / "perfkata-test-forked-pids").read_text().split()]
    assert len(pids) == 3
    deadline = time.monotonic() + HANG_GUARD  # killed at once; the guard only ends a hang
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
