"""The adversarial corpus: every solution in attacks/ cheats, and each grade must say so.

Each attack is graded as a learner would grade it — a real `perfkata grade` on a fresh
workspace — and must not pass (exit code != 0), with the text its docstring names under
`expect:` (a regular expression) in perfkata's output. The docstring's other fields say
which kata, which backend (sqlite / postgresql / redis) and whether timing is the point.

Attacks that escape the grade's processes (`escape: yes`) record where their escapees
live (pid, session, process group, pid namespace) in a file; afterwards none of them may
still run — found by session and process group, never by name. Some attacks have more to
prove (a results file rewritten, a progress file forged, a file left outside): AFTER.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from clirun import perfkata, perfkata_env

# grades every attack in the corpus: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

ATTACKS = Path(__file__).resolve().parent / "attacks"
PG_URL_FIXTURE = "real_postgres_url"
REDIS_URL_FIXTURE = "real_redis_url"
# Hang guards only: how long an escapee may take to be gone once the grade returned
# (killed processes are reaped by pid 1 or a subreaper), and how long a lingering one
# is given to do its harm before the results file is read.
GONE_WITHIN = 5.0
HARM_WITHIN = 10.0


@dataclass(frozen=True)
class Attack:
    path: Path
    kata: str
    backend: str
    expect: str
    timing: bool = False
    escape: bool = False

    @property
    def name(self) -> str:
        return self.path.stem

    @classmethod
    def read(cls, path: Path) -> Attack:
        """The fields of the module docstring: `key: value` lines (values may wrap)."""
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        fields: dict[str, str] = {}
        key = None
        for line in doc.splitlines():
            found = re.match(r"^(\w+):\s*(.*)$", line)
            if found:
                key = found[1]
                fields[key] = found[2].strip()
            elif key and line.startswith(" "):
                fields[key] += " " + line.strip()
            else:
                key = None
        missing = {"attack", "kata", "backend", "expect"} - fields.keys()
        assert not missing, f"{path.name}: docstring lacks {sorted(missing)}"
        return cls(
            path,
            fields["kata"],
            fields["backend"],
            fields["expect"],
            timing=fields.get("timing") == "yes",
            escape=fields.get("escape") == "yes",
        )


def all_attacks() -> list[Attack]:
    return [Attack.read(path) for path in sorted(ATTACKS.glob("*.py"))]


def marks(attack: Attack) -> list[pytest.MarkDecorator]:
    found = [pytest.mark.slow] if attack.timing else []
    if "postgresql" in attack.backend:
        found.append(pytest.mark.postgres)
    return found


@dataclass
class Grade:
    """One attack's grade: its workspace, its solution file, what perfkata said."""

    attack: Attack
    tmp: Path
    records: Path  # where escapees record themselves: writable by any uid
    ws: Path = field(init=False)
    solution: Path = field(init=False)
    backend_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    done: subprocess.CompletedProcess[str] | None = None

    def __post_init__(self) -> None:
        self.ws = self.tmp / "ws"
        started = perfkata("start", self.attack.kata, "--dir", str(self.ws), cwd=self.tmp)
        assert started.returncode == 0, started.stdout + started.stderr
        self.solution = self.ws / self.attack.kata / self.attack.path.name
        source = self.attack.path.read_text(encoding="utf-8")
        source = source.replace("RECORD_DIR = None", f"RECORD_DIR = {str(self.records)!r}")
        self.solution.write_text(source, encoding="utf-8")

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        args = ["grade", self.attack.kata, "--dir", str(self.ws), "--solution", str(self.solution)]
        args += [] if self.attack.timing else ["--no-timing"]
        self.done = perfkata_env(self.env, *args, *self.backend_args, *extra, cwd=self.tmp)
        return self.done

    @property
    def output(self) -> str:
        assert self.done is not None
        return self.done.stdout + self.done.stderr

    def escapees(self) -> list[dict[str, object]]:
        record = self.records / f"{self.attack.name}.escape.json"
        if not record.exists():
            return []  # the attack could not record itself: it does not linger either
        found: list[dict[str, object]] = json.loads(record.read_text())["escapees"]
        return found


# --- finding escapees by session and process group ----------------------------------


def _innermost(status: str, name: str) -> int | None:
    found = re.search(rf"^{name}:\s*(.+)$", status, re.M)
    return int(found[1].split()[-1]) if found else None


def survivors(escapees: list[dict[str, object]]) -> list[int]:
    """Host pids of live (not zombie) processes in an escapee's session or process group,
    or the escapee itself, in the pid namespace the escapee saw itself in."""
    alive = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
            namespace: str | None = os.readlink(Path(entry.path, "ns", "pid"))
        except OSError:
            continue
        if re.search(r"^State:\s*Z", status, re.M):
            continue  # dead, waiting to be reaped
        ids = {
            "pid": _innermost(status, "NSpid"),
            "sid": _innermost(status, "NSsid"),
            "pgid": _innermost(status, "NSpgid"),
        }
        for escapee in escapees:
            if escapee.get("ns") not in (None, namespace):
                continue
            if ids["pid"] == escapee["pid"] or ids["sid"] == escapee["sid"]:
                alive.append(int(entry.name))
                break
            if ids["pgid"] == escapee["pgid"]:
                alive.append(int(entry.name))
                break
    return alive


def survivors_after(escapees: list[dict[str, object]], within: float) -> list[int]:
    """Survivors once `within` seconds passed without all of them gone (a hang guard:
    killed processes vanish as soon as they are reaped)."""
    deadline = time.monotonic() + within
    while (found := survivors(escapees)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# --- what some attacks have to prove besides the grade's verdict ---------------------

Before = Callable[[Grade], list[str]]  # extra grade arguments
After = Callable[[Grade], None]


def results_file_args(grade: Grade) -> list[str]:
    results = grade.tmp / "results" / "results.json"
    return ["--format", "gradescope", "--output", str(results)]


def results_file_unchanged(grade: Grade) -> None:
    """The results file says the score perfkata printed, after any escapee had time to
    rewrite it (it does so as soon as perfkata exits)."""
    results = grade.tmp / "results" / "results.json"
    deadline = time.monotonic() + HARM_WITHIN
    while time.monotonic() < deadline and survivors(grade.escapees()):
        if any("forged" in e for e in grade.escapees()):
            break
        time.sleep(0.1)
    printed = re.search(r"(\d+)/100", grade.output)
    assert printed, grade.output
    written = json.loads(results.read_text())
    assert written["score"] == int(printed[1]), (
        f"perfkata printed {printed[1]}/100, the results file says {written['score']}"
    )


def progress_not_forged(grade: Grade) -> None:
    """`list` does not show the kata passed, and `solution` does not reveal the reference."""
    listed = perfkata("list", "--dir", str(grade.ws), cwd=grade.tmp)
    row = next(line for line in listed.stdout.splitlines() if grade.attack.kata in line)
    assert "passed" not in row and "100/100" not in row, listed.stdout
    shown = perfkata("solution", grade.attack.kata, "--dir", str(grade.ws), cwd=grade.tmp)
    assert shown.returncode != 0, shown.stdout
    assert "Reference solution" not in shown.stdout


def nothing_outside(grade: Grade) -> None:
    marker = grade.ws / "perfkata-attack-wrote-here"
    assert not marker.exists(), f"the learner's code wrote {marker}"


def graded_twice(grade: Grade) -> list[str]:
    """The memo is built by a first grade with the same seed; the test judges the second."""
    grade.run("--seed", "11")
    return ["--seed", "11"]


def poisoned_by_a_first_grade(grade: Grade) -> list[str]:
    """A first grade poisons a counter cache of the test's own; the next, on another
    seed, is judged against what it finds there."""
    grade.env["XDG_CACHE_HOME"] = str(grade.tmp / "cache")
    grade.run("--seed", "21")
    return ["--seed", "22"]


def secret_in_environment(grade: Grade) -> list[str]:
    grade.env["INTEGRITY_TEST_SECRET"] = "hunter2"
    return []


BEFORE: dict[str, Before] = {
    "setsid_rewrites_results": results_file_args,
    "memo_across_grades": graded_twice,
    "poisons_counter_cache": poisoned_by_a_first_grade,
    "parent_environ": secret_in_environment,
}
AFTER: dict[str, After] = {
    "setsid_rewrites_results": results_file_unchanged,
    "forges_state": progress_not_forged,
    "writes_outside": nothing_outside,
}


# --- the test -------------------------------------------------------------------------


@pytest.fixture
def records() -> Iterator[Path]:
    """A folder any uid may write (the learner's may be dropped): escapees record there."""
    folder = Path(tempfile.mkdtemp(prefix="perfkata-attack-records-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def backend_args(attack: Attack, request: pytest.FixtureRequest) -> list[str]:
    args = []
    if "postgresql" in attack.backend:
        args += ["--db-url", request.getfixturevalue(PG_URL_FIXTURE)]
    if "redis" in attack.backend:
        args += ["--redis-url", request.getfixturevalue(REDIS_URL_FIXTURE)]
    return args


@pytest.mark.parametrize(
    "attack", [pytest.param(a, id=a.name, marks=marks(a)) for a in all_attacks()]
)
def test_attack_is_caught(
    attack: Attack, tmp_path: Path, records: Path, request: pytest.FixtureRequest
) -> None:
    grade = Grade(attack, tmp_path, records, backend_args=backend_args(attack, request))
    try:
        extra = BEFORE[attack.name](grade) if attack.name in BEFORE else []
        done = grade.run(*extra)
        assert done.returncode != 0, f"{attack.name} passed:\n{grade.output}"
        assert re.search(attack.expect, grade.output), (
            f"{attack.name}: no {attack.expect!r} in perfkata's output:\n{grade.output}"
        )
        if attack.name in AFTER:
            AFTER[attack.name](grade)
        if attack.escape:
            left = survivors_after(grade.escapees(), GONE_WITHIN)
            assert not left, f"{attack.name}: processes outlived the grade: {left}"
    finally:
        kill(survivors(grade.escapees()))  # whatever happened, leave nothing running


def test_every_attack_says_what_catches_it() -> None:
    """The corpus itself: a docstring with its fields, a known kata and backend."""
    found = all_attacks()
    assert len(found) >= 20
    for attack in found:
        assert attack.kata in (
            "n-plus-one-blog",
            "cached-catalog",
            "cleanup-cron",
            "report-worker",
            "image-pipeline",
        )
        assert set(attack.backend.split("+")) <= {"sqlite", "postgresql", "redis"}
        re.compile(attack.expect)


def test_escapees_are_found_by_session() -> None:
    """The survivor search finds a process that left for a session of its own (and only
    while it runs) — so a pass of the escape checks is not the search finding nothing."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        escapee = {
            "pid": child.pid,
            "sid": child.pid,
            "pgid": child.pid,
            "ns": os.readlink("/proc/self/ns/pid"),
        }
        assert survivors([escapee]) == [child.pid]
    finally:
        child.kill()
        child.wait()
    assert survivors([escapee]) == []
