"""Probe overhead: a kata's workload at its largest size with the query and lazy-load
probes installed vs without, in one process, interleaved ABBA, median of the paired
ratios, garbage collected before each run (as before a timing sample). Katas whose
workload changes its data get the dataset restored (untimed) before every run, exactly
as the grader does.

    python benchmarks/overhead.py [--kata SLUG ...] [--rounds 15]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

from perfkata.bench.probes import ProbeContext, probe_run
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.queries import QueryProbe
from perfkata.grader.grade import solution_paths
from perfkata.grader.worker import WorkerState, fresh_data, op_load, rebuild, run_once
from perfkata.katas.registry import get_kata, registry

GOAL_OVERHEAD = 1.10


def probe_overhead(slug: str, variant: str, rounds: int) -> float:
    """Median over interleaved pairs of (workload with query+lazy probes) / (without)."""
    kata = get_kata(slug)
    path = solution_paths(kata, Path())[variant]
    state = WorkerState(scratch=Path(tempfile.mkdtemp(prefix="perfkata-overhead-")))
    op_load(state, {"kata": slug, "module": str(path)})
    rebuild(state, kata.largest, 1)
    assert state.engine is not None
    ctx = ProbeContext(state.engine, kata.models, state.files)

    def timed(probed: bool) -> float:
        fresh_data(state)
        with state.services() as services:
            gc.collect()  # as before a timing sample: earlier runs' garbage is not billed here
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


def overhead_table(slugs: list[str], rounds: int) -> tuple[list[str], bool]:
    lines = [
        "| kata | starter (median ratio) | reference (median ratio) | goal |",
        "|---|---|---|---|",
    ]
    ok = True
    for slug in slugs:
        ratios = [probe_overhead(slug, v, rounds) for v in ("starter", "reference")]
        ok &= max(ratios) <= GOAL_OVERHEAD
        print(f"  overhead {slug}: {ratios[0]:.3f} / {ratios[1]:.3f}", file=sys.stderr)
        lines.append(f"| {slug} | {ratios[0]:.3f} | {ratios[1]:.3f} | <= {GOAL_OVERHEAD} |")
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kata", nargs="*", default=[k.slug for k in registry().all()])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    lines, ok = overhead_table(args.kata, args.rounds)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
