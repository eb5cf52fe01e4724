"""`perfkata profile` is fenced in as `grade` is: the same memory limit, and its whole
process group killed on timeout (a learner's fork included)."""

from __future__ import annotations

import time
from pathlib import Path

from clirun import perfkata
from test_fault_leftovers import children_sessions, gone_soon

from perfkata.errors import ExitCode

HOGS_MEMORY = """
def render_index(session):
    hog = bytearray(3 * 1024**3)
    return [len(hog)]
"""

FORKS_AND_SPINS = """
import os
from pathlib import Path


def render_index(session):
    if os.fork() == 0:
        while True:
            pass
    Path({mark!r}).touch()
    while True:
        pass
"""


def test_profile_has_the_grades_memory_limit(tmp_path: Path) -> None:
    # Given a solution that allocates 3 GiB (grade says MemoryError; profile allowed it)
    solution = tmp_path / "blog.py"
    solution.write_text(HOGS_MEMORY)
    # When it is profiled
    done = perfkata("profile", "n-plus-one-blog", "--solution", str(solution), cwd=tmp_path)
    # Then it fails as the learner's, on the memory limit, not with a report
    assert done.returncode == ExitCode.USAGE, done.stdout + done.stderr
    assert "MemoryError" in done.stderr or "out of memory" in done.stderr


def test_profile_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    import subprocess
    import sys

    from clirun import clean_environment

    # Given a solution that forks a spinning child, then spins itself
    mark = tmp_path / "spinning"
    solution = tmp_path / "blog.py"
    solution.write_text(FORKS_AND_SPINS.format(mark=str(mark)))
    command = [
        sys.executable,
        "-m",
        "perfkata",
        "profile",
        "n-plus-one-blog",
        "--solution",
        str(solution),
        "--timeout",
        "5",
    ]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        # basic fences: the mark is written outside scratch, which strict ones refuse
        # (tests/integrity/test_fences_escape.py proves the strict process tree)
        env=clean_environment({"PERFKATA_FENCES": "basic"}, True),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    sessions = children_sessions(proc.pid)
    _, err = proc.communicate(timeout=300)
    # Then the timeout is the learner's, and nothing of the profiled run is left running
    assert proc.returncode == ExitCode.USAGE and "did not finish within 5 s" in err, err
    assert sessions and sessions != {proc.pid}
    # (a short grace: another grade's sweep would kill an orphan later, hiding a leak)
    assert gone_soon(sessions, grace=2) == []


def test_only_the_newest_profiles_of_a_kata_are_kept(tmp_path: Path) -> None:
    from perfkata.grader.profiling import prune

    # Given 14 reports of one kata and one of another
    for minute in range(14):
        (tmp_path / f"n-plus-one-blog-20261129-10{minute:02d}00-time.html").write_text("x")
    (tmp_path / "cached-catalog-20250101-000000-time.html").write_text("x")
    # When pruned to 10
    prune(tmp_path, "n-plus-one-blog", keep=10)
    # Then the 4 oldest of that kata are gone, and the other kata's report stays
    left = sorted(p.name for p in tmp_path.glob("n-plus-one-blog-*"))
    assert len(left) == 10 and left[0] == "n-plus-one-blog-20261129-100400-time.html"
    assert (tmp_path / "cached-catalog-20250101-000000-time.html").exists()
