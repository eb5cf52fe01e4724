"""The perfkata command as a learner runs it: a real process, plain output at 100 columns."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from clirun import FEW_ROUNDS, INTERNAL_CRASH, perfkata, perfkata_env, perfkata_injected

from perfkata.katas.registry import get_kata

LEARNERS = Path(__file__).parents[1] / "learners" / "n_plus_one_blog"
KATA = "n-plus-one-blog"


def status_of(listing: str, slug: str) -> str:
    """The status column of a kata's row in `perfkata list` (plain table, 100 columns)."""
    row = next(line for line in listing.splitlines() if line.startswith(slug + " "))
    found = re.search(r"\b(not started|started|failing|passed)\b", row)
    assert found, row
    return found[1]


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
    assert status_of(run.stdout, KATA) == "not started"


def test_start_copies_the_starter_and_prints_the_brief(tmp_path):
    # When a kata is started
    run = perfkata("start", KATA, cwd=tmp_path)
    # Then the brief is printed (as plain Markdown without a colour terminal) …
    assert run.returncode == 0, run.stderr
    brief = [line for line in get_kata(KATA).brief.splitlines() if line.strip()]
    assert brief[0] in run.stdout and brief[-1] in run.stdout
    # … the starter is in place, and the kata alone is listed as started
    assert "# TODO" in learner_file(tmp_path).read_text()
    state = json.loads((tmp_path / "perfkata-work/.perfkata/state.json").read_text())
    assert state["version"] == 1 and state["current"] == KATA
    listing = perfkata("list", cwd=tmp_path).stdout
    assert status_of(listing, KATA) == "started"
    assert status_of(listing, "cached-catalog") == "not started"


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


def assert_passed_unless_too_noisy(run: subprocess.CompletedProcess[str]) -> None:
    """A reference graded with timing passes every check. The one outcome the README
    allows besides: exit 3, with only timed checks inconclusive (the machine was too
    noisy to decide them) — never a fail."""
    assert run.returncode in (0, 3), run.stdout + run.stderr
    result = json.loads(run.stdout)
    metric = {c.id: c.metric for c in get_kata(result["kata"]).rubric}
    not_passed = {c["id"]: c["outcome"] for c in result["checks"] if c["outcome"] != "pass"}
    if run.returncode == 3:
        assert result["verdict"] == "inconclusive" and not_passed, not_passed
        for check, outcome in not_passed.items():
            timed = metric[check] == "speedup" or metric[check].startswith("ratio:")
            assert timed and outcome == "inconclusive", not_passed
    else:
        assert result["verdict"] == "pass" and not not_passed
        assert result["score"] == result["max_score"]


@pytest.mark.slow
def test_full_grade_of_the_reference_passes_with_timing(tmp_path):
    # Its speed-up over the starter is ~8x against a threshold of 3: the interval decides.
    run = perfkata("grade", KATA, "--solution", "reference", "--format", "json", cwd=tmp_path)
    assert_passed_unless_too_noisy(run)


def test_an_undecidable_speed_up_exits_3_and_says_why(tmp_path):
    # Given a timing plan of one round (no confidence interval can be formed from it)
    run = perfkata_injected(FEW_ROUNDS, "grade", KATA, "--solution", "reference", cwd=tmp_path)
    # Then the grade is neither a pass nor a fail: exit 3, the speed-up row says so
    assert run.returncode == 3, run.stdout + run.stderr
    speed_row = next(line for line in run.stdout.splitlines() if "speed-up" in line)
    assert speed_row.rstrip().endswith("inconclusive")
    assert "INCONCLUSIVE: score" in run.stdout


def test_debug_shows_the_traceback_of_the_learners_error(started):
    # Given a learner's file that raises inside the graded function
    path = learner_file(started)
    path.write_text(
        path.read_text().replace("    posts = ", "    raise KeyError('x')\n    posts = ", 1)
    )
    # When it is graded without, then with --debug
    plain_run = perfkata("grade", "--no-timing", cwd=started)
    debug_run = perfkata("--debug", "grade", "--no-timing", cwd=started)
    # Then both exit 2 at the learner's line; only --debug shows the traceback
    for run in (plain_run, debug_run):
        assert run.returncode == 2 and "KeyError" in run.stderr and "blog.py" in run.stderr
    assert "Traceback" not in plain_run.stderr and "--debug" in plain_run.stderr
    assert "Traceback (most recent call last)" in debug_run.stderr
    assert re.search(r'File ".*blog\.py", line \d+', debug_run.stderr)


def test_an_internal_error_is_exit_70_with_its_traceback_only_under_debug(tmp_path):
    args = ("grade", KATA, "--solution", "reference", "--no-timing")
    plain_run = perfkata_injected(INTERNAL_CRASH, *args, cwd=tmp_path)
    debug_run = perfkata_injected(INTERNAL_CRASH, "--debug", *args, cwd=tmp_path)
    for run in (plain_run, debug_run):
        assert run.returncode == 70 and "injected perfkata bug" in run.stderr
    assert "Traceback" not in plain_run.stderr and "Run with --debug" in plain_run.stderr
    assert "Traceback (most recent call last)" in debug_run.stderr
    assert "in crash" in debug_run.stderr  # the frame of the bug itself


def test_reset_backs_up_the_learners_file_before_restoring(started):
    learner_file(started).write_text("# my attempt\n")
    run = perfkata("reset", KATA, "--yes", cwd=started)
    assert run.returncode == 0, run.stderr
    backups = list((started / "perfkata-work/.perfkata/backups").glob(f"{KATA}-*/blog.py"))
    assert [b.read_text() for b in backups] == ["# my attempt\n"]
    assert "# TODO" in learner_file(started).read_text()


def test_solution_refuses_before_the_kata_is_passed(started):
    run = perfkata("solution", KATA, cwd=started)
    assert run.returncode == 2
    assert "once you have passed it" in run.stderr
    assert "selectinload" not in run.stdout


def test_solution_with_force_shows_the_reference_and_the_diff(started):
    run = perfkata("solution", KATA, "--force", "--yes", cwd=started)
    assert run.returncode == 0
    assert "selectinload(Post.comments).joinedload(Comment.author)" in run.stdout
    assert "--- yours/blog.py" in run.stdout and "+++ reference/blog.py" in run.stdout


def mark_passed(root: Path, *slugs: str) -> None:
    state_file = root / "perfkata-work/.perfkata/state.json"
    state = json.loads(state_file.read_text())
    for slug in slugs or (KATA,):
        entry = state["katas"].setdefault(slug, {})
        entry.update(status="passed", best_score=100, passed_at="2026-11-28T00:00:00")
    state_file.write_text(json.dumps(state))


def test_solution_after_passing_needs_no_force(started):
    mark_passed(started)
    run = perfkata("solution", KATA, cwd=started)
    assert run.returncode == 0 and "+++ reference/blog.py" in run.stdout


def test_list_summarises_a_finished_course(started):
    mark_passed(started)
    assert "Every kata passed" not in perfkata("list", cwd=started).stdout  # one left
    slugs = [line.split()[0] for line in perfkata("list", cwd=started).stdout.splitlines()[2:]]
    mark_passed(started, *slugs)
    listing = perfkata("list", cwd=started).stdout
    assert "2026-11-28" in listing
    assert "Every kata passed" in listing and f"{100 * len(slugs)}/{100 * len(slugs)}" in listing


def test_hint_all_shows_the_next_hint_after_every_earlier_one(started):
    # Given no hint asked for yet, When --all is asked, Then the first (never "none yet")
    first = perfkata("hint", KATA, "--all", cwd=started).stdout
    assert "Hint 1/4" in first and "Hint 2/4" not in first
    # And after a second hint, --all recaps both and moves on to the third
    perfkata("hint", KATA, cwd=started)
    shown = perfkata("hint", KATA, "--all", cwd=started).stdout
    assert [line[:8] for line in shown.splitlines() if line.startswith("Hint")] == [
        "Hint 1/4",
        "Hint 2/4",
        "Hint 3/4",
    ]


def test_hint_and_reset_default_to_the_kata_started_last(started):
    # Given a started kata and a changed file, When hint and reset name no kata
    learner_file(started).write_text("# my attempt\n")
    hinted = perfkata("hint", cwd=started)
    reset = perfkata("reset", "--yes", cwd=started)
    # Then both act on the kata started last
    assert hinted.returncode == 0 and "Hint 1/4" in hinted.stdout, hinted.stderr
    assert reset.returncode == 0 and "# TODO" in learner_file(started).read_text(), reset.stderr


def test_watch_without_a_terminal_exits_2(started):
    run = perfkata("watch", cwd=started)
    assert run.returncode == 2
    assert "watch needs a terminal" in run.stderr


def test_doctor_reports_each_backend_with_the_exact_error(tmp_path):
    env = {"PERFKATA_REDIS_URL": "redis://127.0.0.1:1/0"}
    run = perfkata_env(env, "doctor", cwd=tmp_path)
    assert run.returncode == 1
    redis_row = next(line for line in run.stdout.splitlines() if line.startswith("Redis"))
    assert "ERROR" in redis_row and "redis://127.0.0.1:1/0" in redis_row
    assert "SQLite" in run.stdout and "not set" in run.stdout


def test_the_developers_perfkata_settings_do_not_reach_the_command(tmp_path, monkeypatch):
    # Given a developer whose shell points perfkata at servers that are not there
    monkeypatch.setenv("PERFKATA_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("PERFKATA_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    # When a test runs the command, it sees the defaults a learner has
    run = perfkata("doctor", cwd=tmp_path)
    assert "127.0.0.1:1" not in run.stdout, run.stdout
    assert run.returncode == 0, run.stdout


def test_no_color_is_respected_even_on_a_terminal(tmp_path):
    coloured = perfkata_env({"FORCE_COLOR": "1"}, "list", cwd=tmp_path, no_color=False)
    plain = perfkata_env({"FORCE_COLOR": "1"}, "list", cwd=tmp_path, no_color=True)
    assert "\x1b[" in coloured.stdout  # proves the check below can fail
    assert "\x1b[" not in plain.stdout and KATA in plain.stdout


def test_catalog_starter_fails_load_and_hits_but_is_fresh(tmp_path):
    run = perfkata(
        "grade",
        "cached-catalog",
        "--solution",
        "starter",
        "--no-timing",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert run.returncode == 1
    outcomes = {c["id"]: c["outcome"] for c in json.loads(run.stdout)["checks"]}
    assert outcomes["fresh"] == "pass" and outcomes["speedup"] == "not run"
    assert {k for k, v in outcomes.items() if v == "fail"} >= {"db-load", "hit-ratio"}


def test_catalog_reference_passes_every_counted_check_on_each_cache(tmp_path, redis_url):
    extra = ["--redis-url", redis_url] if redis_url else []
    run = perfkata(
        "grade", "cached-catalog", "--solution", "reference", "--no-timing", *extra, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED: score" in run.stdout  # every counted check; the speed-up not run


@pytest.mark.slow
def test_catalog_reference_passes_with_timing(tmp_path):
    # Its read path is ~40x (diskcache) faster than the starter's; threshold 5.
    run = perfkata(
        "grade", "cached-catalog", "--solution", "reference", "--format", "json", cwd=tmp_path
    )
    assert_passed_unless_too_noisy(run)


@pytest.mark.parametrize("kata", ["cached-catalog", "report-worker"])
def test_unreachable_redis_is_one_clear_error(tmp_path, kata):
    run = perfkata(
        "grade",
        kata,
        "--solution",
        "reference",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "Cannot connect to Redis at redis://127.0.0.1:1/0" in run.stderr
    assert "Traceback" not in run.stderr


def test_cron_starter_names_wrong_fire_times_and_unbounded_memory(tmp_path):
    run = perfkata("grade", "cleanup-cron", "--solution", "starter", "--no-timing", cwd=tmp_path)
    assert run.returncode == 1
    assert "expire_sessions ('3 15 * * *') fires Mon 2027-03-01 15:03" in run.stdout
    memory_row = next(line for line in run.stdout.splitlines() if "peak memory" in line)
    assert "FAIL" in memory_row and "B per row" in memory_row


@pytest.mark.slow
def test_cron_reference_passes_on_postgres_with_redis(tmp_path, real_postgres_url, real_redis_url):
    run = perfkata(
        "grade",
        "cleanup-cron",
        "--solution",
        "reference",
        "--db-url",
        real_postgres_url,
        "--redis-url",
        real_redis_url,
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert_passed_unless_too_noisy(run)


def test_report_starter_fails_with_the_lost_requests_named(tmp_path):
    run = perfkata("grade", "report-worker", "--solution", "starter", "--no-timing", cwd=tmp_path)
    assert run.returncode == 1
    assert "requests failed with a NetworkError (an HTTP 500 for the user)" in run.stdout
    assert "reports.py declares no dramatiq actor" in run.stdout


@pytest.mark.slow
def test_report_reference_passes_on_redis_broker_with_timing(tmp_path, real_redis_url):
    run = perfkata(
        "grade",
        "report-worker",
        "--solution",
        "reference",
        "--redis-url",
        real_redis_url,
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert_passed_unless_too_noisy(run)
