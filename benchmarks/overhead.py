"""Probe overhead: a kata's workload at its largest size with the query and lazy-load
probes installed vs without, in one process, interleaved ABBA, median of the paired
ratios, garbage collected before each run (as before a timing sample). Katas whose
workload changes its data get the dataset restored (untimed) before every run, exactly
as the grader does.

    python benchmarks/overhead.py [--kata SLUG ...] [--rounds 15] [--each [--db-url URL]]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

from inprocess import loaded_worker

from perfkata.bench.probes import Probe, ProbeContext, probe_run
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.queries import QueryProbe
from perfkata.grader.database import drop_schema, new_schema_name
from perfkata.grader.worker import fresh_data, rebuild, run_once
from perfkata.katas.registry import get_kata, registry

GOAL_OVERHEAD = 1.10
PROBES: dict[str, Callable[[], list[Probe]]] = {
    "query + lazy-load": lambda: [QueryProbe(), LazyLoadProbe()],
    "query alone": lambda: [QueryProbe()],
    "lazy-load alone": lambda: [LazyLoadProbe()],
}


def probe_overhead(
    slug: str,
    variant: str,
    rounds: int,
    probes: str = "query + lazy-load",
    db_url: str | None = None,
) -> float:
    """Median over interleaved pairs of (workload with the probes) / (without)."""
    schema = new_schema_name() if db_url else None
    try:
        return _paired_median(slug, variant, rounds, probes, db_url, schema)
    finally:
        if db_url and schema:
            drop_schema(db_url, schema)


def _paired_median(
    slug: str, variant: str, rounds: int, probes: str, db_url: str | None, schema: str | None
) -> float:
    kata = get_kata(slug)
    state = loaded_worker(slug, variant, db_url, schema)
    rebuild(state, kata.largest, 1)
    assert state.engine is not None
    ctx = ProbeContext(state.engine, kata.models, state.files)

    def timed(probed: bool) -> float:
        fresh_data(state)
        with state.services() as services:
            gc.collect()  # as before a timing sample: earlier runs' garbage is not billed here
            start = time.perf_counter()
            if probed:
                with probe_run(PROBES[probes](), ctx):
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


def each_probe_table(slugs: list[str], rounds: int, db_url: str | None) -> list[str]:
    """Each probe alone and both, to see which one costs what."""
    lines = ["| kata | solution | " + " | ".join(PROBES) + " |", "|---|---|---|---|---|"]
    for slug in slugs:
        for variant in ("starter", "reference"):
            ratios = [probe_overhead(slug, variant, rounds, name, db_url) for name in PROBES]
            lines.append(f"| {slug} | {variant} | " + " | ".join(f"{r:.3f}" for r in ratios) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kata", nargs="*", default=[k.slug for k in registry().all()])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--each", action="store_true", help="each probe alone, and both")
    parser.add_argument("--db-url", help="PostgreSQL instead of SQLite (with --each)")
    args = parser.parse_args()
    if args.each:
        print("\n".join(each_probe_table(args.kata, args.rounds, args.db_url)))
        return 0
    lines, ok = overhead_table(args.kata, args.rounds)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
