"""`perfkata grade --all` wall time, as an instructor's CI runs it: every kata started in
one workspace, graded in a row by the real command (a fresh process each time). Two
workspaces: every file still the starter, and every file replaced by the reference.

    python benchmarks/grade_all.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perfkata.grader.grade import solution_paths
from perfkata.katas.registry import registry

GOAL_ALL_SECONDS = 60.0
PERFKATA = [sys.executable, "-m", "perfkata"]


def workspace(solved: bool) -> Path:
    root = Path(tempfile.mkdtemp(prefix="perfkata-all-"))
    for kata in registry().all():
        subprocess.run(
            [*PERFKATA, "start", kata.slug, "--dir", str(root)], check=True, capture_output=True
        )
        if solved:
            mine = root / kata.slug / kata.main_file
            shutil.copyfile(solution_paths(kata, mine)["reference"], mine)
    return root


def grade_all_once(root: Path, seed: int) -> tuple[float, dict[str, str]]:
    results = root / "results.json"
    start = time.perf_counter()
    subprocess.run(
        [
            *PERFKATA,
            "grade",
            "--all",
            "--dir",
            str(root),
            "--seed",
            str(seed),
            "--format",
            "json",
            "--output",
            str(results),
        ],
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    document = json.loads(results.read_text(encoding="utf-8"))
    return seconds, {k["kata"]: k["verdict"] for k in document["katas"]}


def grade_all_table(runs: int) -> tuple[list[str], bool]:
    lines = [
        "| workspace (all four katas) | `grade --all` wall time, median (min–max) "
        "| verdicts | goal |",
        "|---|---|---|---|",
    ]
    ok = True
    for solved, label, expected in ((False, "starters", "fail"), (True, "references", "pass")):
        root = workspace(solved)
        times, verdicts = [], []
        for run in range(runs):
            seconds, found = grade_all_once(root, 9000 + run)
            times.append(seconds)
            verdicts += list(found.values())
            print(
                f"  grade --all {label} {run + 1}/{runs}: {seconds:.1f} s {found}", file=sys.stderr
            )
        median = statistics.median(times)
        hits = verdicts.count(expected)
        ok &= median <= GOAL_ALL_SECONDS and hits == len(verdicts)
        lines.append(
            f"| {label} | {median:.1f} s ({min(times):.1f}–{max(times):.1f}) "
            f"| {hits}/{len(verdicts)} {expected} | <= {GOAL_ALL_SECONDS:g} s |"
        )
        shutil.rmtree(root, ignore_errors=True)
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    lines, ok = grade_all_table(parser.parse_args().runs)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
