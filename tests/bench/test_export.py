"""perfkata's timings in pytest-benchmark's JSON: its own `compare` command reads them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfkata.bench.export import document, stats


def test_statistics_match_their_definitions():
    # Given samples whose statistics are worked out by hand (listed out of order)
    found = stats([3.0, 1.0, 100.0, 2.0, 4.0])
    # Then each field has its textbook value
    assert found["median"] == 3.0 and found["min"] == 1.0 and found["max"] == 100.0
    assert found["rounds"] == 5 and found["total"] == 110.0
    assert found["mean"] == 22.0 and found["ops"] == pytest.approx(1 / 22)
    assert found["stddev"] == pytest.approx(43.6176, abs=1e-4)  # sqrt(7610 / 4), n - 1
    assert (found["q1"], found["q3"], found["iqr"]) == (2.0, 4.0, 2.0)
    assert found["iqr_outliers"] == 1 and found["hd15iqr"] == 4.0  # 100 is beyond 1.5 IQR
    assert found["stddev_outliers"] == 1 and found["outliers"] == "1;1"
    assert found["data"] == [3.0, 1.0, 100.0, 2.0, 4.0]  # as measured, in round order


def test_pytest_benchmark_compare_reads_an_export(tmp_path):
    entries = [
        ("n-plus-one-blog", "starter", [0.2, 0.21, 0.19]),
        ("n-plus-one-blog", "yours", [0.02, 0.021]),
    ]
    for name in ("0001_a.json", "0002_b.json"):
        (tmp_path / name).write_text(json.dumps(document(entries, {"cpu": "test", "cores": 2})))
    tool = Path(sys.executable).parent / "pytest-benchmark"
    done = subprocess.run(
        [str(tool), "compare", str(tmp_path / "0001_a.json"), str(tmp_path / "0002_b.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "starter" in done.stdout and "yours" in done.stdout
    assert "Failed to load" not in done.stdout + done.stderr
