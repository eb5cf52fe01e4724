"""Every sample learner in tests/learners/, graded once WITH timing from a shell, as a
learner runs `perfkata grade`: the suite grades them without timing (tests never depend
on the machine's speed), so this is where their timed verdicts are checked.

The expected verdict of a sample is its counted verdict (`--no-timing`, same seed)
unless it is one of the samples whose fault only timing can show (TIMED_FAILS). A wrong
verdict is a pass graded fail or a fail graded pass; "inconclusive" (exit 3) is counted
apart. Samples that exercise errors (crashes, hangs, cheats) are left to the suite.

    python benchmarks/corpus.py [--kata KATA] [--seed 41]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEARNERS = Path(__file__).parents[1] / "tests" / "learners"
KATAS = {
    "n_plus_one_blog": "n-plus-one-blog",
    "cached_catalog": "cached-catalog",
    "cleanup_cron": "cleanup-cron",
    "report_worker": "report-worker",
    "analytics_dashboard": "analytics-dashboard",
}
# Samples about errors and cheating: graded by the suite, where their message is asserted.
NOT_VERDICTS = {
    "allocates_too_much",
    "exits",
    "exits_politely",
    "forks_children",
    "imports_reference",
    "infinite_loop",
    "raises",
    "raw_driver_pg",
    "reads_secrets",
    "replays_answer",
    "syntax_error",
    "caches_orm_objects",
}
# Correct counts, wrong time: only the timed checks can fail these.
TIMED_FAILS = {
    "quadratic_join",
    "three_times_slower",
    "caches_ready_rows",
    "wrong_global_lock",
}
VERDICT = {0: "pass", 1: "fail", 3: "inconclusive"}


def graded(kata: str, path: Path, seed: int, timing: bool) -> tuple[str, list[str], float]:
    """The verdict, the failed checks and the wall time of one `perfkata grade`."""
    command = [sys.executable, "-m", "perfkata", "grade", kata, "--solution", str(path)]
    command += ["--seed", str(seed), "--timeout", "600", "--format", "json"]
    command += [] if timing else ["--no-timing"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="perfkata-corpus-") as folder:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    verdict = VERDICT.get(done.returncode, f"exit {done.returncode}")
    try:
        data = json.loads(done.stdout)
        checks = (data["katas"][0] if "katas" in data else data)["checks"]
        failed = [c["id"] for c in checks if c["outcome"] == "fail"]
    except (ValueError, KeyError, IndexError):  # no results: perfkata itself failed
        verdict, failed = "error", [done.stderr.strip()[-120:]]
    return verdict, failed, seconds


def expected(kata: str, path: Path, seed: int) -> str:
    if path.stem in TIMED_FAILS:
        return "fail"
    return graded(kata, path, seed, timing=False)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kata", choices=sorted(KATAS.values()))
    parser.add_argument("--seed", type=int, default=41)
    args = parser.parse_args()
    wrong = inconclusive = total = 0
    print("| kata | sample | expected | timed verdict | failed checks | s |")
    print("|---|---|---|---|---|---|")
    for folder, kata in KATAS.items():
        if args.kata and kata != args.kata:
            continue
        for path in sorted((LEARNERS / folder).glob("*.py")):
            if path.stem in NOT_VERDICTS:
                continue
            want = expected(kata, path, args.seed)
            got, failed, seconds = graded(kata, path, args.seed, timing=True)
            total += 1
            wrong += got != want and got != "inconclusive"
            inconclusive += got == "inconclusive"
            mark = "" if got in (want, "inconclusive") else " **WRONG**"
            row = f"| {kata} | {path.stem} | {want} | {got}{mark} | {', '.join(failed)} |"
            print(f"{row} {seconds:.0f} |", flush=True)
    print(f"\n{total} samples: {wrong} wrong verdicts, {inconclusive} inconclusive")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
