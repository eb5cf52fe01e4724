"""The perfkata command as a learner runs it: a real process, plain output at 100 columns."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LEARNERS = Path(__file__).parents[1] / "learners"
KATA = "n-plus-one-blog"


def perfkata(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="100", NO_COLOR="1")
    env.pop("PERFKATA_WORKSPACE", None)
    env.pop("PERFKATA_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "perfkata", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def started(tmp_path: Path) -> Path:
    run = perfkata("start", KATA, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    return tmp_path


def learner_file(root: Path) -> Path:
    return root / "perfkata-work" / KATA / "blog.py"


def test_list_shows_the_kata_as_not_started(tmp_path):
    run = perfkata("list", cwd=tmp_path)
    assert run.returncode == 0
    assert KATA in run.stdout and "not started" in run.stdout


def test_start_copies_the_starter_and_prints_the_brief(started):
    assert "# TODO" in learner_file(started).read_text()
    state = json.loads((started / "perfkata-work/.perfkata/state.json").read_text())
    assert state["version"] == 1 and state["current"] == KATA
    listing = perfkata("list", cwd=started).stdout
    assert "started" in listing


def test_start_again_refuses_and_keeps_the_learners_file(started):
    learner_file(started).write_text("# my work\n")
    run = perfkata("start", KATA, cwd=started)
    assert run.returncode == 2
    assert "already exists" in run.stderr and "perfkata reset" in run.stderr
    assert learner_file(started).read_text() == "# my work\n"


def test_unknown_kata_suggests_the_close_match(tmp_path):
    run = perfkata("start", "n-plus-one", cwd=tmp_path)
    assert run.returncode == 2
    assert "did you mean n-plus-one-blog" in run.stderr
    assert "Traceback" not in run.stderr


def test_grade_without_a_started_kata_says_what_to_do(tmp_path):
    run = perfkata("grade", cwd=tmp_path)
    assert run.returncode == 2
    assert "perfkata grade n-plus-one-blog" in run.stderr


def test_grade_a_missing_solution_file_is_a_usage_error(tmp_path):
    run = perfkata("grade", KATA, "--solution", str(tmp_path / "nope.py"), cwd=tmp_path)
    assert run.returncode == 2
    assert "There is no file at" in run.stderr


def test_grade_starter_fails_and_names_each_n_plus_one(tmp_path):
    run = perfkata(
        "grade", KATA, "--solution", "starter", "--no-timing", "--seed", "1", cwd=tmp_path
    )
    assert run.returncode == 1
    for relationship in ("Post.author", "Post.category", "Post.comments", "Comment.author"):
        assert f"N+1: {relationship} lazily loaded" in run.stdout
    assert "at blog.py:" in run.stdout
    assert "FAILED: score" in run.stdout


def test_grade_syntax_error_in_workspace_file_exits_2_and_keeps_the_file(started):
    broken = (LEARNERS / "syntax_error.py").read_text()
    learner_file(started).write_text(broken)
    run = perfkata("grade", cwd=started)
    assert run.returncode == 2
    assert "Syntax error in blog.py:5" in run.stderr
    assert "Traceback" not in run.stderr
    assert learner_file(started).read_text() == broken


def test_grade_json_output_is_machine_readable(tmp_path):
    run = perfkata(
        "grade",
        KATA,
        "--solution",
        str(LEARNERS / "over_eager.py"),
        "--no-timing",
        "--format",
        "json",
        "--seed",
        "2",
        cwd=tmp_path,
    )
    assert run.returncode == 1
    result = json.loads(run.stdout)
    assert result["schema"] == "perfkata.grade/1" and result["seed"] == 2
    outcomes = {c["id"]: c["outcome"] for c in result["checks"]}
    assert outcomes["no-unused-eager"] == "fail" and outcomes["no-lazy-loads"] == "pass"


def test_hints_come_one_at_a_time_and_are_remembered(started):
    first = perfkata("hint", KATA, cwd=started).stdout
    second = perfkata("hint", KATA, cwd=started).stdout
    assert first.startswith("Hint 1/4") and second.startswith("Hint 2/4")
    for _ in range(3):
        last = perfkata("hint", KATA, cwd=started).stdout
    assert last.startswith("Hint 4/4") and "last hint" in last


def test_corrupt_state_file_is_reported_and_rebuilt(started):
    state = started / "perfkata-work/.perfkata/state.json"
    state.write_text("{not json")
    run = perfkata("list", cwd=started)
    assert run.returncode == 0
    assert "was unreadable" in run.stderr and "moved to" in run.stderr
    assert list(state.parent.glob("state.json.corrupt-*"))
    assert learner_file(started).exists()


def test_unreachable_database_is_a_clear_error(tmp_path):
    run = perfkata(
        "grade",
        KATA,
        "--solution",
        "reference",
        "--db-url",
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "Cannot connect to the database at postgresql+psycopg://nobody@127.0.0.1:1/none" in (
        run.stderr
    )


@pytest.mark.slow
def test_full_grade_of_the_reference_passes_with_timing(tmp_path):
    run = perfkata("grade", KATA, "--solution", "reference", cwd=tmp_path)
    # Its speed-up over the starter is ~8x against a threshold of 3: the interval decides.
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED: score 100/100" in run.stdout


def test_reset_backs_up_the_learners_file_before_restoring(started):
    learner_file(started).write_text("# my attempt\n")
    run = perfkata("reset", KATA, "--yes", cwd=started)
    assert run.returncode == 0, run.stderr
    backups = list((started / "perfkata-work/.perfkata/backups").glob(f"{KATA}-*/blog.py"))
    assert [b.read_text() for b in backups] == ["# my attempt\n"]
    assert "# TODO" in learner_file(started).read_text()
