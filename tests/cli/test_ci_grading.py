"""`perfkata grade --all` for CI: results files in every format, written whatever happens."""

import json
import xml.etree.ElementTree as ET

from clirun import perfkata


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
    # When every kata is graded into a JUnit file
    run = perfkata(
        "grade",
        "--all",
        "--format",
        "junit",
        "--output",
        "out/r.xml",
        "--timeout",
        "5",
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
