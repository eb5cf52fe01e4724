"""`pytest --perfkata`: one pytest test per rubric check, failures carrying diagnostics."""

import shutil
from pathlib import Path

import pytest

from perfkata.grader.grade import solution_paths
from perfkata.katas.registry import get_kata


def start(workspace: Path, slug: str, variant: str) -> None:
    kata = get_kata(slug)
    target = workspace / slug / kata.main_file
    target.parent.mkdir(parents=True)
    shutil.copy(solution_paths(kata, Path())[variant], target)


def test_each_check_is_a_test_and_failures_say_what_to_fix(pytester):
    # Given a workspace with the blog solved and the catalog untouched
    workspace = pytester.path / "perfkata-work"
    start(workspace, "n-plus-one-blog", "reference")
    start(workspace, "cached-catalog", "starter")
    # When pytest runs with the plugin (in a folder with no tests of its own)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--perfkata-no-timing", "--perfkata", "-rA"
    )
    # Then every check of both katas ran; the catalog's failures carry the diagnostics
    blog, catalog = get_kata("n-plus-one-blog"), get_kata("cached-catalog")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] + outcomes["failed"] + outcomes["skipped"] == len(blog.rubric) + len(
        catalog.rubric
    )
    assert outcomes["skipped"] == 2  # the two speed-ups, timing skipped
    result.stdout.fnmatch_lines(["*PASSED perfkata:n-plus-one-blog::no-lazy-loads*"])
    result.stdout.fnmatch_lines(["*FAILED perfkata:cached-catalog::hit-ratio*"])
    result.stdout.fnmatch_lines(["*Cache every read page*"])
    assert result.ret == 1


# A test-only timing plan, installed by a conftest in the run: one round gives no
# confidence interval, so the speed-up is inconclusive whatever the machine's speed.
ONE_ROUND = """
import functools
import perfkata.pytest_plugin as plugin
from perfkata.grader.timing import TimingPlan

plugin.GradeOptions = functools.partial(
    plugin.GradeOptions, plan=TimingPlan(min_rounds=1, max_rounds=1)
)
"""


def test_an_inconclusive_speed_up_is_its_own_outcome_and_the_run_fails(pytester):
    # Given the blog solved with the reference, and timing that cannot decide
    start(pytester.path / "perfkata-work", "n-plus-one-blog", "reference")
    pytester.makeconftest(ONE_ROUND)
    # When pytest runs the blog's checks with timing
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--perfkata", "-v")
    # Then the speed-up is neither passed nor skipped: INCONCLUSIVE, with the reason
    outcomes = result.parseoutcomes()
    assert outcomes.get("inconclusive") == 1 and "skipped" not in outcomes
    assert outcomes["passed"] == len(get_kata("n-plus-one-blog").rubric) - 1
    result.stdout.fnmatch_lines(["*perfkata:n-plus-one-blog::speedup INCONCLUSIVE*"])
    result.stdout.fnmatch_lines(["INCONCLUSIVE perfkata:n-plus-one-blog::speedup: *too noisy*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_without_the_flag_the_plugin_adds_nothing(pytester):
    # Given a started kata the plugin would collect if it were on
    start(pytester.path / "perfkata-work", "n-plus-one-blog", "starter")
    pytester.makepyfile("def test_one():\n    assert True\n")
    # When pytest only collects, without --perfkata
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    # Then the one test file's test is all there is
    assert result.ret == pytest.ExitCode.OK
    collected = [line for line in result.stdout.lines if "::" in line]
    assert collected == ["test_without_the_flag_the_plugin_adds_nothing.py::test_one"]
