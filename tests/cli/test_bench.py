"""`perfkata bench`: the side-by-side table, saved runs, and regressions against them."""

import re
import shutil
from pathlib import Path

import pytest
from clirun import perfkata

REPO = Path(__file__).parents[2]
SLOWER = REPO / "tests" / "learners" / "n_plus_one_blog" / "three_times_slower.py"


@pytest.mark.slow
def test_compare_save_and_catch_a_regression(tmp_path):
    # Given the blog, solved with the reference
    assert perfkata("start", "n-plus-one-blog", cwd=tmp_path).returncode == 0
    mine = tmp_path / "perfkata-work" / "n-plus-one-blog" / "blog.py"
    shutil.copy(REPO / "solutions" / "n-plus-one-blog" / "blog.py", mine)

    # When it is benched and saved, the table shows the starter's linear growth
    first = perfkata("bench", "--quick", "--save", "base", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    growth = re.compile(r"^statements\s+≈ 2·N [+−] \d+\s+2 → 3\s+2 → 3", re.M)
    assert growth.search(first.stdout), first.stdout  # the starter linear, the others flat
    assert "latency (ms)" in first.stdout
    assert "statements by dataset size" in first.stdout and "Saved as 'base'" in first.stdout

    # Then the same code against it: no regression
    again = perfkata(
        "bench", "--quick", "--against", "latest", "--fail-on-regression", cwd=tmp_path
    )
    assert again.returncode == 0, again.stdout
    assert "no change in any counter" in again.stdout

    # And a version three times slower is a regression
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
    assert "REGRESSION: latency (relative to the reference)" in slower.stdout
    assert "REGRESSION: statements at 800: 3 → 9" in slower.stdout

    listed = perfkata("bench", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and "base" in listed.stdout


def test_against_an_unknown_run_is_a_usage_error(tmp_path):
    assert perfkata("start", "n-plus-one-blog", cwd=tmp_path).returncode == 0
    run = perfkata("bench", "--against", "nope", cwd=tmp_path)
    assert run.returncode == 2 and "There is no saved run 'nope'" in run.stderr
