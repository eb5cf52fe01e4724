"""Verdicts and grade time under load: every kata's starter, reference and the sample
solutions whose verdict is known, graded from a shell (`perfkata grade`) while the
machine is idle, with one core busy, and under heavy load — CPU-bound hog processes
numbering twice the cores, plus one hammering Redis — on the embedded backends and on
PostgreSQL/Redis. A wrong verdict is a pass graded fail or a fail graded pass;
"inconclusive" (exit 3) is counted apart: it is never wrong, only unhelpful.

    python benchmarks/stress.py --runs 1 [--conditions idle,one-core,heavy] [--before DIR]

With --before (another checkout, e.g. `git worktree add /tmp/before <commit>`), every
case is graded by both trees one after the other, in alternating order (ABBA), so the
two meet the same load: verdicts and grade times side by side in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).parents[1]
LEARNERS = REPO / "tests" / "learners"
PG = os.environ.get("PERFKATA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("PERFKATA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
EXIT = {0: "pass", 1: "fail", 3: "inconclusive"}

# (kata, solution, expected verdict, backends): the solution is "starter", "reference"
# or a sample learner's file; "real" grades on PostgreSQL and Redis. Grades are slow on
# a loaded 2-core machine (20-150 s each), so the list is what a run can afford: every
# kata's reference (a wrong FAIL is the costly error), the starters that are cheap,
# and the samples whose timed verdict the issue named.
CASES = [
    ("n-plus-one-blog", "starter", "fail", "embedded"),
    ("n-plus-one-blog", "reference", "pass", "embedded"),
    ("n-plus-one-blog", "n_plus_one_blog/memoised.py", "fail", "embedded"),
    ("cached-catalog", "reference", "pass", "embedded"),
    ("cleanup-cron", "reference", "pass", "embedded"),
    ("report-worker", "reference", "pass", "embedded"),
    ("report-worker", "report_worker/wrong_global_lock.py", "fail", "embedded"),
    ("report-worker", "reference", "pass", "real"),
    # the katas a880175 did not have: graded by the trees that have them
    ("analytics-dashboard", "starter", "fail", "embedded"),
    ("analytics-dashboard", "reference", "pass", "embedded"),
    ("analytics-dashboard", "analytics_dashboard/slices_in_python.py", "fail", "embedded"),
    ("analytics-dashboard", "reference", "pass", "real"),
    ("http-caching", "starter", "fail", "embedded"),
    ("http-caching", "reference", "pass", "embedded"),
    ("image-pipeline", "starter", "fail", "embedded"),
    ("image-pipeline", "reference", "pass", "embedded"),
    ("image-pipeline", "reference", "pass", "real"),
]

CPU_HOG = "while True: pass"
REDIS_HOG = """
import os, redis
client = redis.Redis.from_url({url!r})
prefix = f"perfkata-hog-{{os.getpid()}}"
while True:
    pipe = client.pipeline()
    for i in range(200):
        pipe.set(f"{{prefix}}:{{i}}", "x" * 200, ex=60)
    pipe.execute()
"""


@contextlib.contextmanager
def running(programs: list[str]) -> Iterator[None]:
    """Each program (`python -c`) running for the duration, killed after, whatever happens
    (side_by_side.py's hogs too)."""
    hogs = [subprocess.Popen([sys.executable, "-c", code]) for code in programs]
    try:
        time.sleep(1 if hogs else 0)
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def load(condition: str) -> contextlib.AbstractContextManager[None]:
    """idle: nothing; one-core: one busy loop; heavy: 2 x cores busy loops + Redis."""
    cores = os.cpu_count() or 1
    return running(
        {
            "idle": [],
            "one-core": [CPU_HOG],
            "heavy": [CPU_HOG] * (2 * cores) + [REDIS_HOG.format(url=REDIS)],
        }[condition]
    )


def has_kata(tree: Path, slug: str) -> bool:
    return (tree / "src" / "perfkata" / "katas" / slug.replace("-", "_")).is_dir()


def grade_once(tree: Path, case: tuple[str, str, str, str], seed: int) -> tuple[str, float]:
    slug, solution, _, backends = case
    path = solution if solution in ("starter", "reference") else str(LEARNERS / solution)
    command = [sys.executable, "-m", "perfkata", "grade", slug, "--solution", path]
    command += ["--seed", str(seed), "--timeout", "600"]
    if backends == "real":
        command += ["--db-url", PG, "--redis-url", REDIS]
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), NO_COLOR="1")
    with tempfile.TemporaryDirectory() as workspace:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    verdict = EXIT.get(done.returncode, f"error {done.returncode}")
    if verdict.startswith("error"):
        print(done.stdout[-600:], done.stderr[-600:], file=sys.stderr)
    return verdict, seconds


def run_condition(trees: dict[str, Path], condition: str, runs: int) -> list[tuple]:
    rows = []
    with load(condition):
        print(f"{condition}: load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
        for run in range(runs):
            for index, case in enumerate(CASES):
                names = list(trees) if (run + index) % 2 == 0 else list(trees)[::-1]
                for name in [n for n in names if has_kata(trees[n], case[0])]:
                    verdict, seconds = grade_once(trees[name], case, 9100 + 37 * run + index)
                    rows.append((f"{condition} ({name})", *case, verdict, seconds))
                    print(
                        f"  {condition} {name} {case[0]} {case[1]} [{case[3]}]: {verdict} "
                        f"(expected {case[2]}) {seconds:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    return rows


def summary(rows: list[tuple], condition: str) -> str:
    mine = [r for r in rows if r[0] == condition]
    wrong = sum(1 for r in mine if r[5] in ("pass", "fail") and r[5] != r[3])
    undecided = sum(1 for r in mine if r[5] == "inconclusive")
    errors = sum(1 for r in mine if r[5].startswith("error"))
    seconds = [r[6] for r in mine]
    return (
        f"| {condition} | {len(mine)} | {wrong} | {undecided} ({undecided / len(mine):.0%}) "
        f"| {errors} | {statistics.median(seconds):.1f} s | {max(seconds):.1f} s |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--conditions", default="idle,one-core,heavy")
    parser.add_argument("--before", type=Path, help="another checkout, graded side by side")
    parser.add_argument("--after", type=Path, default=REPO, help="the checkout measured")
    parser.add_argument("--only", help="comma-separated kata slugs")
    args = parser.parse_args()
    trees = {"after": args.after.resolve()}
    if args.before:
        trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    if args.only:
        CASES[:] = [case for case in CASES if case[0] in args.only.split(",")]
    rows = []
    for condition in args.conditions.split(","):
        rows += run_condition(trees, condition, args.runs)
    print("| condition | grades | wrong verdicts | inconclusive | errors | median | max |")
    print("|---|---|---|---|---|---|---|")
    for label in dict.fromkeys(r[0] for r in rows):
        print(summary(rows, label))
    print("\n| condition | kata | solution | backends | expected | got | seconds |")
    print("|---|---|---|---|---|---|---|")
    for condition, slug, solution, expected, backends, verdict, seconds in rows:
        print(
            f"| {condition} | {slug} | {solution} | {backends} | {expected} | {verdict} | "
            f"{seconds:.1f} |"
        )
    wrong = any(r[5] in ("pass", "fail") and r[5] != r[3] for r in rows)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
