"""Nothing outlives a grade: kill perfkata (SIGKILL, SIGTERM — what a CI time limit
sends) while the learner's code spins, and no schema, Redis key, temp folder or process
of that grade is left once the next grade has run — none at all after SIGTERM.
Processes are found by session (each worker leads its own), never by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from clirun import clean_environment
from sqlalchemy import create_engine, text

from perfkata.katas.files import solution_dir

# grades killed mid-way, then swept: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

# The reference caches its first page, then spins forever: keys in Redis, rows in its
# schema, a worker that never answers.
SPINS_AFTER_CACHING = """
from pathlib import Path as _Path

_reference_product_page = product_page


def product_page(session, cache, product_id):
    page = _reference_product_page(session, cache, product_id)
    _Path({mark!r}).touch()
    while True:
        pass
"""


def spinning_solution(tmp_path: Path) -> tuple[Path, Path]:
    mark = tmp_path / "spinning"
    path = tmp_path / "catalog.py"
    source = (solution_dir("cached-catalog") / "catalog.py").read_text()
    path.write_text(source + SPINS_AFTER_CACHING.format(mark=str(mark)))
    return path, mark


class Grade:
    """`perfkata grade` on PostgreSQL and Redis, with a temp folder of the test's own."""

    def __init__(self, tmp_path: Path, pg: str, redis_url: str) -> None:
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir(exist_ok=True)
        # basic fences: the learner's mark is written outside scratch (strict refuses it)
        self.env = clean_environment(
            {"TMPDIR": str(self.tmp), "PERFKATA_FENCES": "basic"}, no_color=True
        )
        self.backends = ["--db-url", pg, "--redis-url", redis_url, "--no-timing"]
        self.cwd = tmp_path

    def start(self, solution: Path, *extra: str) -> subprocess.Popen[str]:
        command = [
            sys.executable,
            "-m",
            "perfkata",
            "grade",
            "cached-catalog",
            "--solution",
            str(solution),
            *self.backends,
            *extra,
        ]
        return subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run(self, solution: str, *extra: str) -> subprocess.CompletedProcess[str]:
        proc = self.start(Path(solution), *extra)
        out, err = proc.communicate(timeout=900)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def proc_stat(pid: str) -> list[str] | None:
    try:
        raw = Path("/proc", pid, "stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from state on: ppid=1, sid=3


def children_sessions(parent: int) -> set[int]:
    """The sessions perfkata's workers lead (start_new_session: sid = worker pid)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = proc_stat(pid)
        if fields and int(fields[1]) == parent:
            found.add(int(fields[3]))
    return found


def in_sessions(sessions: set[int]) -> list[int]:
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = proc_stat(pid)
        if fields and int(fields[3]) in sessions and fields[0] != "Z":
            alive.append(int(pid))
    return alive


def gone_soon(sessions: set[int], grace: float = 30) -> list[int]:
    """The processes still in these sessions after the kernel has had time to kill them
    and init to reap them (a hang guard, not a speed limit)."""
    deadline = time.monotonic() + grace
    while in_sessions(sessions) and time.monotonic() < deadline:
        time.sleep(0.1)
    return in_sessions(sessions)


def left_by(pid: int, tmp: Path, pg: str, redis_url: str) -> dict[str, list[str]]:
    engine = create_engine(pg)
    with engine.connect() as conn:
        schemas = (
            conn.execute(
                text(
                    "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"
                ),
                {"p": f"perfkata\\_{pid}\\_%"},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    client = redis.Redis.from_url(redis_url)
    keys = [
        k.decode()
        for p in (f"perfkata:{pid}_*", f"perfkata-run-{pid}_*")
        for k in client.scan_iter(match=p, count=1000)
    ]
    client.close()
    folders = [p.name for p in tmp.glob(f"perfkata-{pid}-*")]
    return {"schemas": list(schemas), "keys": keys, "folders": folders}


NOTHING: dict[str, list[str]] = {"schemas": [], "keys": [], "folders": []}


def killed_mid_grade(grade: Grade, tmp_path: Path, how: signal.Signals):
    """Start a grade, wait until the learner's code spins, snapshot what it made, kill."""
    solution, mark = spinning_solution(tmp_path)
    proc = grade.start(solution)
    deadline = time.monotonic() + 600
    while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists(), proc.communicate()[1]
    sessions = children_sessions(proc.pid)
    made = left_by(proc.pid, grade.tmp, *grade.backends[1:4:2])
    proc.send_signal(how)
    proc.communicate(timeout=300)  # a hang guard; a busy PostgreSQL can hold a DROP a while
    return proc, sessions, made


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_grade_leaves_nothing_once_the_next_has_run(
    tmp_path: Path, real_postgres_url: str, real_redis_url: str, how: signal.Signals
) -> None:
    # Given a grade on PostgreSQL and Redis, killed while the learner's code spins
    grade = Grade(tmp_path, real_postgres_url, real_redis_url)
    proc, sessions, made = killed_mid_grade(grade, tmp_path, how)
    assert sessions and made["schemas"] and made["keys"] and made["folders"]  # it made some
    if how == signal.SIGKILL:
        # Then the workers die with it (PR_SET_PDEATHSIG), before any next grade
        assert gone_soon(sessions) == []
    if how == signal.SIGTERM:
        # Then after SIGTERM, nothing at all is left, with no next grade needed
        assert proc.returncode == 128 + signal.SIGTERM
        assert left_by(proc.pid, grade.tmp, real_postgres_url, real_redis_url) == NOTHING
        assert in_sessions(sessions) == []
    # When the next grade runs
    done = grade.run("reference")
    assert done.returncode == 0, done.stdout + done.stderr
    # Then no schema, key, temp folder or process of the killed grade is left
    assert left_by(proc.pid, grade.tmp, real_postgres_url, real_redis_url) == NOTHING
    assert in_sessions(sessions) == []


def test_a_learner_timeout_on_redis_leaves_no_key(
    tmp_path: Path, real_postgres_url: str, real_redis_url: str
) -> None:
    # Given a solution that spins after caching, and a short timeout
    grade = Grade(tmp_path, real_postgres_url, real_redis_url)
    solution, _ = spinning_solution(tmp_path)
    proc = grade.start(solution, "--timeout", "5")
    out, err = proc.communicate(timeout=900)
    # Then the learner is told, and its killed worker's keys went with the grade
    assert proc.returncode == 2 and "did not finish within 5 s" in err, out + err
    assert left_by(proc.pid, grade.tmp, real_postgres_url, real_redis_url) == NOTHING
