"""Measure perfkata itself on this machine: grade wall time, probe overhead, verdict
stability. Prints a Markdown report (paste it into benchmarks/README.md) and exits
non-zero when a goal is missed, so it can run as an optional CI job.

    python benchmarks/run_core.py [--runs 10] [--overhead-rounds 15]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from perfkata.bench.probes import ProbeContext, probe_run
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.queries import QueryProbe
from perfkata.bench.sourceline import LearnerFiles
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.grader.worker import WorkerState, op_load, rebuild, run_once
from perfkata.katas.registry import get_kata

GOAL_GRADE_SECONDS = 15.0
GOAL_OVERHEAD = 1.10


def grade_times_and_verdicts(slug: str, runs: int) -> dict[str, tuple[list[float], list[str]]]:
    kata = get_kata(slug)
    paths = solution_paths(kata, Path())
    found: dict[str, tuple[list[float], list[str]]] = {}
    for variant in ("starter", "reference"):
        times, verdicts = [], []
        for run in range(runs):
            start = time.perf_counter()
            result = grade(kata, paths[variant], GradeOptions(seed=1000 + run))
            times.append(time.perf_counter() - start)
            verdicts.append(result.verdict.value)
            print(
                f"  {variant} run {run + 1}/{runs}: {verdicts[-1]} in {times[-1]:.1f} s",
                file=sys.stderr,
            )
        found[variant] = (times, verdicts)
    return found


def probe_overhead(slug: str, variant: str, rounds: int) -> float:
    """Median over interleaved pairs of (workload with query+lazy probes) / (without)."""
    kata = get_kata(slug)
    path = solution_paths(kata, Path())[variant]
    state = WorkerState(scratch=Path(tempfile.mkdtemp()))
    op_load(state, {"kata": slug, "module": str(path)})
    rebuild(state, kata.largest, 1)
    assert state.engine is not None
    ctx = ProbeContext(state.engine, kata.models, LearnerFiles([str(path)]))

    def timed(probed: bool) -> float:
        with state.services() as services:
            start = time.perf_counter()
            if probed:
                with probe_run([QueryProbe(), LazyLoadProbe()], ctx):
                    run_once(state, services)
            else:
                run_once(state, services)
            return time.perf_counter() - start

    timed(True), timed(False)  # warm both paths
    ratios = []
    for index in range(rounds):
        order = (True, False) if index % 2 == 0 else (False, True)  # ABBA
        pair = {probed: timed(probed) for probed in order}
        ratios.append(pair[True] / pair[False])
    return statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--overhead-rounds", type=int, default=15)
    parser.add_argument("--kata", default="n-plus-one-blog")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}\n"
    )
    ok = True
    # 0 rounds skips it (katas whose workload deletes its data cannot be re-run as is)
    overheads = {
        v: probe_overhead(args.kata, v, args.overhead_rounds)
        for v in ("starter", "reference")
        if args.overhead_rounds
    }
    print("| workload | probe overhead (median ratio, query + lazy-load probes) | goal |")
    print("|---|---|---|")
    for variant, ratio in overheads.items():
        ok &= ratio <= GOAL_OVERHEAD
        print(f"| {variant} | {ratio:.3f} | <= {GOAL_OVERHEAD} |")
    found = grade_times_and_verdicts(args.kata, args.runs)
    print("\n| solution graded | wall time median (min–max) | verdicts | goal |")
    print("|---|---|---|---|")
    for variant, (times, verdicts) in found.items():
        expected = "fail" if variant == "starter" else "pass"
        stable = verdicts.count(expected)
        ok &= stable == len(verdicts) and statistics.median(times) <= GOAL_GRADE_SECONDS
        print(
            f"| {variant} | {statistics.median(times):.1f} s ({min(times):.1f}–{max(times):.1f})"
            f" | {stable}/{len(verdicts)} {expected} | <= {GOAL_GRADE_SECONDS:g} s, all "
            f"{expected} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
