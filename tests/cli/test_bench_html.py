"""`perfkata bench --html` and `--export`: a self-contained report that renders, charts included, in
headless Chromium (installed by .ci/run; skipped on a laptop without it)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clirun import perfkata

REPO = Path(__file__).parents[2]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("PERFKATA_REQUIRE_SERVICES") == "1":
        pytest.fail("chromium is required in CI (.ci/run installs Debian's package)")
    pytest.skip("chromium is not installed")


def headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_html_report_renders_with_its_charts_offline(tmp_path):
    browser = chromium()
    assert perfkata("start", "n-plus-one-blog", cwd=tmp_path).returncode == 0
    page = tmp_path / "report.html"
    exported = tmp_path / "timings.json"
    run = perfkata(
        "bench",
        "--quick",
        "--solution",
        "reference",
        "--html",
        str(page),
        "--export",
        str(exported),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    names = [b["name"] for b in json.loads(exported.read_text())["benchmarks"]]
    assert names == ["starter", "yours", "reference"]  # pytest-benchmark's layout
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text  # nothing fetched at view time

    dom = headless(browser, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    charts = dom.stdout.count('class="pygal-chart')
    assert charts >= 5  # statements, lazy loads, objects, memory …, and latency
    assert "statements by dataset size" in dom.stdout and "latency per call" in dom.stdout

    shot = tmp_path / "report.png"
    done = headless(browser, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 20_000  # a page, not a blank
