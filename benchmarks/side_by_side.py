"""Grade wall time of two checkouts of perfkata, alternately in one run (ABBA), so a
speed-up claim compares like with like on a noisy machine: each grade is a fresh
process with that checkout's `src` first on PYTHONPATH (its workers inherit it).

    git worktree add /tmp/before <old commit>
    python benchmarks/side_by_side.py --before /tmp/before --kata cleanup-cron --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GRADE = """
from pathlib import Path
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.katas.registry import get_kata
kata = get_kata({slug!r})
path = solution_paths(kata, Path())[{variant!r}]
print(grade(kata, path, GradeOptions(seed={seed}, timing={timing})).verdict.value)
"""


def graded(
    tree: Path, slug: str, variant: str, seed: int, timing: bool = True
) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    code = GRADE.format(slug=slug, variant=variant, seed=seed, timing=timing)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True
    )
    return time.perf_counter() - start, done.stdout.strip() or done.stderr.strip()[-200:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--after", type=Path, default=Path(__file__).parents[1])
    parser.add_argument("--kata", required=True)
    parser.add_argument("--solution", default="starter", choices=("starter", "reference"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-timing", action="store_true", help="grade the counts only")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for run in range(args.runs):
        order = list(trees) if run % 2 == 0 else list(trees)[::-1]
        for name in order:
            seconds, verdict = graded(
                trees[name], args.kata, args.solution, 7000 + run, not args.no_timing
            )
            times[name].append(seconds)
            print(f"  {name} {run + 1}/{args.runs}: {verdict} {seconds:.1f} s", file=sys.stderr)
    for name, found in times.items():
        median = statistics.median(found)
        print(f"{name}: median {median:.1f} s ({min(found):.1f}–{max(found):.1f})")
    ratio = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"after / before: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
