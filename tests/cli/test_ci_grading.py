"""`perfkata grade --all` for CI: results files in every format, written whatever happens."""

import json
import xml.etree.ElementTree as ET

import pytest
from clirun import INTERNAL_CRASH, perfkata, perfkata_injected

# grades all four katas in each CI format: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow


def start(root, slug, edit=None):
    assert perfkata("start", slug, cwd=root).returncode == 0
    if edit:
        path = next((root / "perfkata-work" / slug).glob("*.py"))
        path.write_text(path.read_text().replace(edit[0], edit[0] + edit[1]))


def test_all_writes_junit_for_a_failing_and_a_hanging_kata(tmp_path):
    # Given a started blog (the failing starter) and a report kata stuck in a loop
    start(tmp_path, "n-plus-one-blog")
    hang = ("def request_report(session, report_id):\n", "    while True:\n        pass\n")
    start(tmp_path, "report-worker", hang)
    # When every kata is graded into a JUnit file — with one timeout for both: long enough
    # that the blog is never cut short on a busy machine (5 s was), and waited out once
    run = perfkata(
        "grade",
        "--all",
        "--format",
        "junit",
        "--output",
        "out/r.xml",
        "--timeout",
        "45",
        "--no-timing",
        cwd=tmp_path,
    )
    # Then both verdicts are in a valid XML file, and the exit code says "not all passed"
    assert run.returncode == 1, run.stderr
    assert "Results written to out/r.xml" in run.stdout
    root = ET.parse(tmp_path / "out" / "r.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert int(suites["perfkata.n-plus-one-blog"].get("failures")) >= 1
    assert suites["perfkata.report-worker"].get("errors") == "1"
    assert "report-worker: error" in run.stdout  # the progress line as it went


def test_results_file_is_written_even_when_a_service_is_unreachable(tmp_path):
    start(tmp_path, "cached-catalog")
    run = perfkata(
        "grade",
        "--all",
        "--format",
        "json",
        "--output",
        "r.json",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        cwd=tmp_path,
    )
    assert run.returncode == 1
    document = json.loads((tmp_path / "r.json").read_text())
    (entry,) = document["katas"]
    assert entry["verdict"] == "error" and entry["error"]["kind"] == "usage"
    assert "Cannot connect to Redis at redis://127.0.0.1:1/0" in entry["error"]["message"]


def test_all_without_started_katas_and_unknown_formats_are_usage_errors(tmp_path):
    run = perfkata("grade", "--all", cwd=tmp_path)
    assert run.returncode == 2 and "No kata is started" in run.stderr
    run = perfkata("grade", "n-plus-one-blog", "--format", "yaml", cwd=tmp_path)
    assert run.returncode == 2 and "use text, json, junit, github, gradescope" in run.stderr
    run = perfkata("grade", "--all", "n-plus-one-blog", cwd=tmp_path)
    assert run.returncode == 2 and "--all grades every started kata" in run.stderr


def test_results_file_is_written_when_perfkata_itself_crashes(tmp_path):
    # Given a started kata, and a bug injected into perfkata's own grading
    start(tmp_path, "n-plus-one-blog")
    # When every kata is graded into a results file
    args = ("grade", "--all", "--no-timing", "--format", "json", "--output", "r.json")
    run = perfkata_injected(INTERNAL_CRASH, *args, cwd=tmp_path)
    # Then the file is there, the kata scored 0 with perfkata's error as the reason
    assert run.returncode == 1, run.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    (entry,) = document["katas"]
    assert entry["verdict"] == "error" and entry["score"] == 0
    assert entry["error"]["kind"] == "internal"
    assert "injected perfkata bug" in entry["error"]["message"]
