"""`perfkata bench`: the side-by-side table, saved runs, and regressions against them.

The latency half of the regression rule (1.5x and Mann-Whitney p < 0.05) is tested on
given samples in tests/bench/test_runs.py; here only what does not depend on the
machine's speed is asserted: the counters, the saved runs, and the replayed seed."""

import re
import shutil
from pathlib import Path

import pytest
from clirun import FEW_ROUNDS, perfkata, perfkata_injected

from perfkata.bench.runs import RunStore

REPO = Path(__file__).parents[2]
SLOWER = REPO / "tests" / "learners" / "n_plus_one_blog" / "three_times_slower.py"


def solved_blog(root: Path) -> None:
    assert perfkata("start", "n-plus-one-blog", cwd=root).returncode == 0
    mine = root / "perfkata-work" / "n-plus-one-blog" / "blog.py"
    shutil.copy(REPO / "solutions" / "n-plus-one-blog" / "blog.py", mine)


def saved_seed(root: Path, name: str) -> int:
    run = RunStore(root / "perfkata-work" / ".perfkata" / "runs").load(name)
    assert run is not None, name
    return run.katas["n-plus-one-blog"].seed


@pytest.mark.slow
def test_compare_save_and_catch_a_regression(tmp_path):
    # Given the blog, solved with the reference
    solved_blog(tmp_path)

    # When it is benched and saved, the table shows the starter's linear growth
    first = perfkata("bench", "--quick", "--save", "base", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    growth = re.compile(r"^statements\s+≈ 2·N [+−] \d+\s+2 → 3\s+2 → 3", re.M)
    assert growth.search(first.stdout), first.stdout  # the starter linear, the others flat
    assert re.search(r"^latency\s+\d[\d.]* [mµ]?s \[", first.stdout, re.M), first.stdout
    assert "statements by dataset size" in first.stdout and "Saved as 'base'" in first.stdout

    # Then the same code against it: no counter changed (a latency finding, if this busy
    # machine produced one, is the only regression allowed)
    again = perfkata(
        "bench", "--quick", "--against", "latest", "--fail-on-regression", cwd=tmp_path
    )
    assert "no change in any counter" in again.stdout, again.stdout
    regressions = [line for line in again.stdout.splitlines() if "REGRESSION" in line]
    assert all("latency" in line for line in regressions)
    assert again.returncode == (1 if regressions else 0), again.stdout

    # And a version with more statements is a regression, found by its counters
    slower = perfkata(
        "bench",
        "--quick",
        "--solution",
        str(SLOWER),
        "--against",
        "base",
        "--fail-on-regression",
        cwd=tmp_path,
    )
    assert slower.returncode == 1, slower.stdout
    assert "REGRESSION: statements at 800: 3 → 9" in slower.stdout

    listed = perfkata("bench", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and "base" in listed.stdout


def test_against_a_saved_run_replays_its_seed(tmp_path):
    # Given a saved run (one timing round: the seed, not the timing, is under test)
    solved_blog(tmp_path)
    saved = perfkata_injected(FEW_ROUNDS, "bench", "--save", "base", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    # When the same code is benched against it, and once more on its own
    against = perfkata_injected(
        FEW_ROUNDS, "bench", "--against", "base", "--save", "replayed", cwd=tmp_path
    )
    alone = perfkata_injected(FEW_ROUNDS, "bench", "--save", "alone", cwd=tmp_path)
    assert against.returncode == 0 and alone.returncode == 0, against.stderr + alone.stderr
    # Then the comparison ran on the saved run's dataset (so counters compare), while a
    # run of its own drew a fresh seed
    assert saved_seed(tmp_path, "replayed") == saved_seed(tmp_path, "base")
    assert saved_seed(tmp_path, "alone") != saved_seed(tmp_path, "base")
    assert "no change in any counter" in against.stdout


def test_against_an_unknown_run_is_a_usage_error(tmp_path):
    assert perfkata("start", "n-plus-one-blog", cwd=tmp_path).returncode == 0
    run = perfkata("bench", "--against", "nope", cwd=tmp_path)
    assert run.returncode == 2 and "There is no saved run 'nope'" in run.stderr


def test_compare_shows_starter_yours_and_reference_side_by_side(tmp_path):
    # Given a started blog (one timing round: the table's shape, not the speed, is under test)
    assert perfkata("start", "n-plus-one-blog", cwd=tmp_path).returncode == 0
    # When the README's command runs
    run = perfkata_injected(FEW_ROUNDS, "bench", "--compare", cwd=tmp_path)
    # Then it succeeds with the three solutions as columns, in the grade table's words,
    # latency with units, and the starter's unmeasured memory explained
    assert run.returncode == 0, run.stderr
    header = re.compile(r"^metric\s+starter\s+yours\s+reference\s+vs starter\s+vs ref$", re.M)
    assert header.search(run.stdout), run.stdout
    assert re.search(r"^lazy loads\s+\d", run.stdout, re.M), run.stdout
    assert re.search(r"^peak memory\s+not measured\*\s+[\d.]+ MiB", run.stdout, re.M)
    assert "* The starter's memory is not measured" in run.stdout
    assert "lazy_loads" not in run.stdout and "peak_bytes" not in run.stdout
