"""The progress file: wrong shapes are moved aside, parallel writers lose nothing, and a
workspace that cannot be written costs a warning — never the grade."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from clirun import FEW_ROUNDS, clean_environment, perfkata, perfkata_env

from perfkata.errors import ExitCode
from perfkata.katas.files import solution_dir
from perfkata.katas.n_plus_one_blog import KATA
from perfkata.workspace import Workspace, next_hint

# Saving fails as on a read-only .perfkata (chmod cannot show it: tests may run as root).
READ_ONLY_STATE = (
    "import errno, perfkata.workspace as w\n"
    "def refuse(self, state):\n"
    "    raise PermissionError(errno.EACCES, 'Permission denied', str(self.state_path))\n"
    "w.Workspace.save_state = refuse\n"
)


def started(tmp_path: Path) -> Path:
    done = perfkata("start", KATA.slug, "--dir", str(tmp_path / "ws"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "ws"


def test_wrong_value_types_are_moved_aside_with_a_warning(tmp_path: Path) -> None:
    # Given a state file that is valid JSON with a score that is not a number
    ws = started(tmp_path)
    state = ws / ".perfkata" / "state.json"
    data = json.loads(state.read_text())
    data["katas"][KATA.slug]["best_score"] = "lots"
    state.write_text(json.dumps(data))
    # When asking for a hint
    done = perfkata("hint", KATA.slug, "--dir", str(ws), cwd=tmp_path)
    # Then the hint is shown, the bad file is kept aside with a warning naming the field
    assert done.returncode == 0, done.stderr
    assert "Hint 1/" in done.stdout
    assert "best_score" in done.stderr and "moved to" in done.stderr
    assert list((ws / ".perfkata").glob("state.json.corrupt-*"))
    assert json.loads(state.read_text())["katas"][KATA.slug]["hints_shown"] == 1


def test_a_hint_is_shown_when_it_cannot_be_remembered(tmp_path: Path) -> None:
    ws = started(tmp_path)
    done = perfkata_env(
        {}, "hint", KATA.slug, "--dir", str(ws), cwd=tmp_path, inject=READ_ONLY_STATE
    )
    assert done.returncode == 0, done.stderr
    assert "Hint 1/" in done.stdout
    assert (
        "could not be saved" in done.stderr and str(ws / ".perfkata" / "state.json") in done.stderr
    )


def test_a_grade_that_cannot_be_recorded_keeps_its_score_and_exit_code(tmp_path: Path) -> None:
    # Given the reference in the learner's file, and a workspace that cannot be written
    ws = started(tmp_path)
    (ws / KATA.slug / KATA.main_file).write_bytes(
        (solution_dir(KATA.slug) / KATA.main_file).read_bytes()
    )
    # When it is graded (one timing round: a deterministic "inconclusive", exit 3)
    done = perfkata_env(
        {}, "grade", KATA.slug, "--dir", str(ws), cwd=tmp_path, inject=FEW_ROUNDS + READ_ONLY_STATE
    )
    # Then the score is printed, the exit code is the grade's, and the warning names the path
    assert done.returncode == ExitCode.INCONCLUSIVE, done.stdout + done.stderr
    assert "/100" in done.stdout
    assert "could not be saved" in done.stderr
    assert str(ws / ".perfkata" / "state.json") in done.stderr
    assert "PermissionError" not in done.stderr and "internal error" not in done.stderr


def ask_hints(root: str, times: int) -> None:
    many = replace(KATA, hints=tuple(f"hint {n}" for n in range(1000)))
    for _ in range(times):
        next_hint(Workspace(Path(root)), many)


def test_parallel_writers_lose_no_update(tmp_path: Path) -> None:
    # Given four processes each recording 50 hints in the same workspace at once
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=ask_hints, args=(str(tmp_path), 50)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(300)
    # Then every one of the 200 read-modify-writes is counted
    assert [p.exitcode for p in procs] == [0] * 4
    assert Workspace(tmp_path).load_state().progress(KATA.slug).hints_shown == 200


def test_four_parallel_hint_commands_count_four(tmp_path: Path) -> None:
    ws = started(tmp_path)
    command = [sys.executable, "-m", "perfkata", "hint", KATA.slug, "--dir", str(ws)]
    env = clean_environment({}, no_color=True)
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE) for _ in range(4)]
    shown = sorted(p.communicate(timeout=300)[0].decode().split("/")[0] for p in procs)
    assert shown == ["Hint 1", "Hint 2", "Hint 3", "Hint 4"]
