"""Timing samples in pytest-benchmark's JSON format, so `pytest-benchmark compare` (and
the tools built on it) read perfkata's runs: same field names, same statistics."""

from __future__ import annotations

import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

FORMAT_VERSION = "5.1.0"  # the pytest-benchmark JSON layout this follows


def stats(samples: Sequence[float]) -> dict[str, Any]:
    data = sorted(samples)
    if len(data) >= 2:
        q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    else:
        q1 = q3 = data[0]
    iqr = q3 - q1
    mean = statistics.fmean(data)
    stddev = statistics.stdev(data) if len(data) > 1 else 0.0
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for x in data if x < low_fence or x > high_fence)
    stddev_outliers = sum(1 for x in data if x < mean - stddev or x > mean + stddev)
    return {
        "min": data[0],
        "max": data[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": len(data),
        "median": statistics.median(data),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": min(x for x in data if x >= low_fence),
        "hd15iqr": max(x for x in data if x <= high_fence),
        "ops": 1 / mean if mean else 0.0,
        "total": sum(data),
        "data": list(samples),
        "iterations": 1,
    }


def benchmark(group: str, name: str, samples: Sequence[float]) -> dict[str, Any]:
    return {
        "group": group,
        "name": name,
        "fullname": f"perfkata::{group}::{name}",
        "params": None,
        "param": None,
        "extra_info": {"source": "perfkata bench"},
        "options": {
            "disable_gc": False,
            "timer": "perf_counter",
            "min_rounds": len(samples),
            "max_time": 0,
            "min_time": 0,
            "warmup": False,
        },
        "stats": stats(samples),
    }


def document(
    entries: Sequence[tuple[str, str, Sequence[float]]], environment: dict[str, Any]
) -> dict[str, Any]:
    """entries: (group, name, samples in seconds), e.g. ("n-plus-one-blog", "starter", …)."""
    return {
        "machine_info": {
            "node": platform.node(),
            "processor": environment.get("cpu", platform.processor()),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
            "python_version": environment.get("python", platform.python_version()),
            "python_compiler": platform.python_compiler(),
            "release": platform.release(),
            "system": platform.system(),
            "cpu": {"brand_raw": environment.get("cpu"), "count": environment.get("cores")},
        },
        "commit_info": {"id": environment.get("git_commit"), "dirty": None, "project": "perfkata"},
        "benchmarks": [benchmark(g, n, s) for g, n, s in entries if s],
        "datetime": datetime.now(UTC).isoformat(),
        "version": FORMAT_VERSION,
    }
