"""Where one grade's wall time goes: when each phase began (the grade's own progress
reports), and the time the parent spent waiting on each worker request of the timing
rounds, per solution and request. In-process (no CLI start-up), one grade:

    python benchmarks/grade_phases.py report-worker --solution reference --seed 9206
    python benchmarks/grade_phases.py cached-catalog --no-timing
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

from perfkata.grader import process  # noqa: E402 — the imports are part of what is timed
from perfkata.grader.grade import GradeOptions, grade, solution_paths  # noqa: E402
from perfkata.katas.registry import get_kata  # noqa: E402

Waits = dict[tuple[str, str], list[float]]


def waiting_on_requests(waits: Waits) -> None:
    """Every WorkerProcess.call (the timing rounds' requests) adds its wall time."""
    call = process.WorkerProcess.call

    def timed_call(self: Any, request: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(self, request, *args, **kwargs)
        finally:
            name = f"{request.get('op')} {request.get('kind') or ''}".strip()
            waits[self.label, name].append(time.perf_counter() - start)

    process.WorkerProcess.call = timed_call  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kata")
    parser.add_argument("--solution", default="reference", choices=["starter", "reference"])
    parser.add_argument("--seed", type=int, default=9200)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    kata = get_kata(args.kata)
    phases: dict[str, float] = {}
    waits: Waits = defaultdict(list)
    waiting_on_requests(waits)

    def progress(what: str, done: int, total: int) -> None:
        phases.setdefault(what, time.perf_counter() - STARTED)

    imported = time.perf_counter() - STARTED
    options = GradeOptions(seed=args.seed, timing=not args.no_timing, progress=progress)
    result = grade(kata, solution_paths(kata, Path())[args.solution], options)
    ended = time.perf_counter() - STARTED
    rounds = result.timing.rounds if result.timing else 0
    print(f"{args.kata} {args.solution}: {result.verdict.value}, {ended:.2f} s, {rounds} rounds")
    print(f"  {imported:6.2f} s  imports done")
    for what, at in phases.items():
        print(f"  {at:6.2f} s  {what} began")
    for (label, name), seconds in sorted(waits.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {sum(seconds):6.2f} s  {len(seconds):4d} × {name} ({label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
