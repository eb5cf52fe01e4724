"""A backend that dies mid-grade is a service failure: exit 4 and kind "service", naming
the service and its URL — never the learner's error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from clirun import clean_environment
from services import throwaway_redis

from perfkata.bench.sourceline import LearnerFiles
from perfkata.errors import ExitCode, LearnerCodeError, ServiceFailed
from perfkata.grader.database import service_failure
from perfkata.grader.loading import learner_errors
from perfkata.katas.files import solution_dir

# The reference, whose first page waits until the test has killed its Redis.
WAITS_FOR_THE_KILL = """
import time as _time
from pathlib import Path as _Path

_MARK = _Path({mark!r})
_reference_product_page = product_page


def product_page(session, cache, product_id):
    if not _MARK.with_suffix(".seen").exists():
        _MARK.with_suffix(".seen").touch()
        _MARK.touch()
        deadline = _time.monotonic() + 120
        while _MARK.exists() and _time.monotonic() < deadline:
            _time.sleep(0.05)
    return _reference_product_page(session, cache, product_id)
"""


def waiting_solution(tmp_path: Path) -> tuple[Path, Path]:
    mark = tmp_path / "waiting"
    source = (solution_dir("cached-catalog") / "catalog.py").read_text()
    path = tmp_path / "catalog.py"
    path.write_text(source + WAITS_FOR_THE_KILL.format(mark=str(mark)))
    return path, mark


def grade_while_redis_dies(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    solution, mark = waiting_solution(tmp_path)
    with throwaway_redis(tmp_path) as server:
        command = [
            sys.executable,
            "-m",
            "perfkata",
            "grade",
            "cached-catalog",
            "--solution",
            str(solution),
            "--no-timing",
            "--redis-url",
            server.url,
            *extra,
        ]
        proc = subprocess.Popen(
            command,
            cwd=tmp_path,
            # basic fences: the mark is written outside scratch, which strict ones refuse
            env=clean_environment({"PERFKATA_FENCES": "basic"}, True),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 600
        while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # mid-grade: the learner's code is between two requests
        mark.unlink(missing_ok=True)
        out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_redis_dying_mid_grade_is_a_service_failure(tmp_path: Path) -> None:
    # When the Redis a grade uses is killed while the learner's code runs
    done = grade_while_redis_dies(tmp_path)
    # Then the grade could not be completed: exit 4, naming Redis and its URL
    assert done.returncode == ExitCode.SERVICE, done.stdout + done.stderr
    assert "Could not grade: Redis at redis://127.0.0.1:" in done.stderr
    assert "not your code's fault" in done.stderr
    assert "catalog.py:" not in done.stderr  # not blamed on a line of the learner's file


def test_the_results_file_says_service(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    done = grade_while_redis_dies(tmp_path, "--format", "json", "--output", str(results))
    assert done.returncode == ExitCode.SERVICE, done.stdout + done.stderr
    error = json.loads(results.read_text())["katas"][0]["error"]
    assert error["kind"] == "service" and "Redis" in error["message"]


def raised_in_learner_code(exc: Exception) -> BaseException:
    try:
        with learner_errors(LearnerFiles([]), "running product_page"):
            raise exc
    except (ServiceFailed, LearnerCodeError) as caught:
        return caught
    raise AssertionError("not re-raised")


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6390."),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    ],
)
def test_a_server_gone_is_not_the_learners_error(exc: Exception) -> None:
    assert isinstance(raised_in_learner_code(exc), ServiceFailed)


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.UndefinedTable('relation "post" does not exist'),
        ValueError("bad"),
    ],
)
def test_a_failing_command_stays_the_learners(exc: Exception) -> None:
    assert service_failure(exc) is None
    assert isinstance(raised_in_learner_code(exc), LearnerCodeError)
