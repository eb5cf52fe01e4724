"""`pytest --perfkata`: one pytest test per rubric check, failures carrying diagnostics."""

import shutil
from pathlib import Path

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


def test_without_the_flag_the_plugin_adds_nothing(pytester):
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
