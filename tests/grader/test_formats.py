"""CI results from one batch over a workspace with a passing, a failing, a crashing and a
hanging kata: every format is written for all four, with the right verdicts."""

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from perfkata.grader.batch import exit_code, grade_many, results_document
from perfkata.grader.formats import as_github, as_gradescope, as_json, as_junit
from perfkata.grader.grade import GradeOptions, solution_paths
from perfkata.katas.registry import get_kata

# grades in every results format: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]


def make_workspace(root: Path) -> list:
    """passing: the blog reference; failing: the catalog starter; crashing and hanging:
    the cleanup and report starters with a raise and a `while True` put in."""
    work = []
    for slug, edit in [
        ("n-plus-one-blog", None),
        ("cached-catalog", None),
        (
            "cleanup-cron",
            ("def expire_sessions(session, now):\n", '    raise ValueError("oops")\n'),
        ),
        (
            "report-worker",
            ("def request_report(session, report_id):\n", "    while True:\n        pass\n"),
        ),
    ]:
        kata = get_kata(slug)
        variant = "reference" if slug == "n-plus-one-blog" else "starter"
        source = solution_paths(kata, Path())[variant]
        target = root / slug / kata.main_file
        target.parent.mkdir(parents=True)
        shutil.copy(source, target)
        if edit:
            text = target.read_text()
            target.write_text(text.replace(edit[0], edit[0] + edit[1]))
        work.append((kata, target))
    return work


HANG_GUARD = 600.0  # a timeout that only a hang reaches, never a slow machine
HANG_TIMEOUT = 10.0  # the hanging kata's own: it is waited out once, so it stays short


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    # The three katas that finish get a hang guard; only the one that loops forever gets a
    # timeout short enough to wait out — a slow machine cannot turn a fail into an error.
    *finishing, hanging = make_workspace(tmp_path_factory.mktemp("ws"))
    done = grade_many(finishing, GradeOptions(seed=3, timing=False, timeout=HANG_GUARD))
    options = GradeOptions(seed=3, timing=False, timeout=HANG_TIMEOUT)
    return [*done, *grade_many([hanging], options)]


def test_each_kata_gets_its_verdict_and_a_reason(outcomes):
    verdicts = {o.kata.slug: o.verdict for o in outcomes}
    assert verdicts == {
        "n-plus-one-blog": "pass",
        "cached-catalog": "fail",
        "cleanup-cron": "error",
        "report-worker": "error",
    }
    crash, hang = outcomes[2].error, outcomes[3].error
    assert crash.kind == "learner" and "ValueError: oops" in crash.message and crash.line
    assert hang.kind == "learner" and "did not finish within 10 s" in hang.message
    assert exit_code(outcomes) == 1


def test_json_results_follow_the_documented_schema(outcomes):
    document = json.loads(as_json(outcomes))
    assert document["schema"] == "perfkata.results/1" and document["passed"] is False
    assert document["max_score"] == 400
    assert document["score"] == sum(k["score"] for k in document["katas"])
    blog, catalog, crash, _ = document["katas"]
    assert catalog["verdict"] == "fail" and catalog["score"] < catalog["max_score"]
    assert blog["grade"]["verdict"] == "pass" and blog["error"] is None
    assert crash["grade"] is None and crash["score"] == 0
    assert crash["error"]["file"].endswith("cleanup.py")
    documented = (REPO / "docs" / "results.md").read_text()
    for key in document["katas"][0]:
        assert f"`{key}`" in documented  # every field the file has is documented


def test_junit_is_valid_xml_with_a_testcase_per_check(outcomes):
    root = ET.fromstring(as_junit(outcomes))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    catalog = suites["perfkata.cached-catalog"]
    assert int(catalog.get("failures")) == len(catalog.findall("testcase/failure")) > 0
    assert suites["perfkata.n-plus-one-blog"].get("failures") == "0"
    error = suites["perfkata.report-worker"].find("testcase/error")
    assert error is not None and "did not finish" in error.get("message")


def test_github_annotations_point_at_the_learners_lines(outcomes):
    lines = as_github(outcomes).splitlines()
    crash = next(line for line in lines if "perfkata cleanup-cron" in line and "::error" in line)
    assert "cleanup.py,line=" in crash and "ValueError: oops" in crash
    assert all(line.startswith(("::error ", "::notice ")) for line in lines)
    assert not any("\n" in line for line in lines)


def test_gradescope_scores_add_up(outcomes):
    document = json.loads(as_gradescope(outcomes))
    assert document["score"] == results_document(outcomes)["score"]
    assert sum(t["score"] for t in document["tests"]) == document["score"]
    assert {t["status"] for t in document["tests"]} == {"passed", "failed"}
    hang = next(t for t in document["tests"] if t["name"] == "report-worker: grade")
    assert hang["max_score"] == 100 and "did not finish" in hang["output"]
