"""Verdict stability and the noise floor, per kata: the starter and the reference graded
N times each (seeds differ per run), on an idle machine and again while a busy-loop
process keeps one core busy. Prints Markdown for benchmarks/README.md; exits non-zero
when a verdict ever differs from the expected one (starter fail, reference pass; an
"inconclusive" timing counts as a miss) or a grade's median exceeds 15 s.

    python benchmarks/stability.py [--runs 20] [--kata SLUG ...] [--no-hog]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.katas.registry import get_kata, registry

GOAL_GRADE_SECONDS = 15.0
EXPECTED = {"starter": "fail", "reference": "pass"}


@contextmanager
def cpu_hog(active: bool) -> Iterator[None]:
    """A busy loop on one core for as long as the block runs."""
    if not active:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def measure(slug: str, variant: str, runs: int) -> dict[str, list[float] | list[str]]:
    kata = get_kata(slug)
    path = solution_paths(kata, Path())[variant]
    verdicts, seconds, noise_widths, speedups = [], [], [], []
    for run in range(runs):
        start = time.perf_counter()
        result = grade(kata, path, GradeOptions(seed=5000 + run))
        seconds.append(time.perf_counter() - start)
        verdicts.append(result.verdict.value)
        if result.timing and result.timing.reference_speedup:
            noise_widths.append(result.timing.noise_level)
            speedups.append(result.timing.reference_speedup.median)
        print(
            f"  {slug} {variant} {run + 1}/{runs}: {verdicts[-1]} {seconds[-1]:.1f} s",
            file=sys.stderr,
        )
    return {"verdicts": verdicts, "seconds": seconds, "noise": noise_widths, "speedups": speedups}


def row(slug: str, condition: str, found: dict[str, dict]) -> tuple[str, bool]:
    ok = True
    cells = [slug, condition]
    for variant in ("starter", "reference"):
        verdicts = found[variant]["verdicts"]
        hits = verdicts.count(EXPECTED[variant])
        others = sorted({v for v in verdicts if v != EXPECTED[variant]})
        cells.append(
            f"{hits}/{len(verdicts)} {EXPECTED[variant]}"
            + (f" ({', '.join(others)})" if others else "")
        )
        median = statistics.median(found[variant]["seconds"])
        ok &= hits == len(verdicts) and median <= GOAL_GRADE_SECONDS
        cells.append(f"{median:.1f} s")
    noise = found["reference"]["noise"]
    cells.append(f"±{statistics.median(noise):.0%}" if noise else "—")
    speedups = found["reference"]["speedups"]
    cells.append(f"{statistics.median(speedups):.1f}×" if speedups else "—")
    return "| " + " | ".join(cells) + " |", ok


HEADER = [
    "| kata | machine | starter verdicts | starter grade (median) | reference verdicts "
    "| reference grade (median) | noise floor (ref vs ref, 95 % half-width, median) "
    "| reference speed-up over starter (median) |",
    "|---|---|---|---|---|---|---|---|",
]


def stability_table(
    slugs: list[str], runs: int, hog: bool = True
) -> tuple[list[str], bool, dict[str, float]]:
    """The table's lines, whether every goal held, and each kata's median reference
    speed-up on the idle machine."""
    lines, ok, speedups = list(HEADER), True, {}
    for condition in ("idle", "one core busy")[: 2 if hog else 1]:
        with cpu_hog(condition != "idle"):
            for slug in slugs:
                found = {v: measure(slug, v, runs) for v in ("starter", "reference")}
                line, good = row(slug, condition, found)
                ok &= good
                lines.append(line)
                print(line, file=sys.stderr, flush=True)
                measured = found["reference"]["speedups"]
                if condition == "idle" and measured:
                    speedups[slug] = statistics.median(measured)
    return lines, ok, speedups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kata", nargs="*", default=[k.slug for k in registry().all()])
    parser.add_argument("--no-hog", action="store_true", help="idle machine only")
    args = parser.parse_args()
    lines, ok, _ = stability_table(args.kata, args.runs, hog=not args.no_hog)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
