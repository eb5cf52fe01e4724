"""Grade wall time of two checkouts of perfkata, alternately in one run (ABBA), so a
speed-up claim compares like with like on a noisy machine: each grade is a fresh
process with that checkout's `src` first on PYTHONPATH (its workers inherit it).

    git worktree add /tmp/before <old commit>
    python benchmarks/side_by_side.py --before /tmp/before --kata cleanup-cron --runs 5

As a learner runs it (`--cli`: `python -m perfkata grade …` from a shell, in an empty
folder), for every kata with and without timing and `grade --all` over a workspace of
every kata solved with its reference, idle and under CPU hogs, one markdown table:

    python benchmarks/side_by_side.py --before /tmp/before --cli --kata all \\
        --modes timing,no-timing,all --runs 3 --conditions idle,hogs4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stress import CPU_HOG, running

GRADE = """
from pathlib import Path
from perfkata.grader.grade import GradeOptions, grade, solution_paths
from perfkata.katas.registry import get_kata
kata = get_kata({slug!r})
path = solution_paths(kata, Path())[{variant!r}]
print(grade(kata, path, GradeOptions(seed={seed}, timing={timing})).verdict.value)
"""
KATAS = ("n-plus-one-blog", "cached-catalog", "cleanup-cron", "report-worker")
EXIT = {0: "pass", 1: "fail", 3: "inconclusive"}


def tree_env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree / "src"), NO_COLOR="1")


def graded(
    tree: Path, slug: str, variant: str, seed: int, timing: bool = True
) -> tuple[float, str]:
    code = GRADE.format(slug=slug, variant=variant, seed=seed, timing=timing)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], env=tree_env(tree), cwd=tree, capture_output=True, text=True
    )
    return time.perf_counter() - start, done.stdout.strip() or done.stderr.strip()[-200:]


def graded_cli(
    tree: Path, slug: str, variant: str, seed: int, timing: bool = True
) -> tuple[float, str]:
    """`perfkata grade` as typed in a shell, from an empty folder; the verdict is the
    exit code."""
    command = [sys.executable, "-m", "perfkata", "grade", slug, "--solution", variant]
    command += ["--seed", str(seed)] + ([] if timing else ["--no-timing"])
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run(command, env=tree_env(tree), cwd=folder, capture_output=True)
        seconds = time.perf_counter() - start
    return seconds, EXIT.get(done.returncode, f"error {done.returncode}")


def solved_workspace(tree: Path) -> Path:
    """Every kata started by that tree's own `perfkata start`, its file the reference."""
    root = Path(tempfile.mkdtemp(prefix="perfkata-sbs-"))
    env = tree_env(tree)
    for slug in KATAS:
        subprocess.run(
            [sys.executable, "-m", "perfkata", "start", slug, "--dir", str(root)],
            env=env,
            check=True,
            capture_output=True,
        )
        for solved in (tree / "solutions" / slug).glob("*.py"):
            if (root / slug / solved.name).exists():
                shutil.copyfile(solved, root / slug / solved.name)
    return root


def graded_all(tree: Path, root: Path, seed: int) -> tuple[float, str]:
    """`perfkata grade --all` over a solved workspace; the verdicts from its JSON."""
    results = root / "results.json"
    results.unlink(missing_ok=True)
    command = [sys.executable, "-m", "perfkata", "grade", "--all", "--dir", str(root)]
    command += ["--seed", str(seed), "--format", "json", "--output", str(results)]
    start = time.perf_counter()
    subprocess.run(command, env=tree_env(tree), capture_output=True)
    seconds = time.perf_counter() - start
    try:
        found = [k["verdict"] for k in json.loads(results.read_text())["katas"]]
    except (OSError, ValueError, KeyError):
        return seconds, "error"
    return seconds, "pass" if found == ["pass"] * len(KATAS) else "/".join(found)


def matrix(args: argparse.Namespace, trees: dict[str, Path]) -> int:
    """Every (condition, kata, mode) case, each tree in alternating order per case."""
    slugs = KATAS if args.kata == "all" else tuple(args.kata.split(","))
    modes = args.modes.split(",")
    cases = [(slug, mode) for mode in modes if mode != "all" for slug in slugs]
    cases += [("grade --all", "all")] if "all" in modes else []
    # SIGTERM ends the run like Ctrl-C: the hogs are killed and the workspaces removed
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(1))
    workspaces = {name: solved_workspace(tree) for name, tree in trees.items()}
    rows: list[tuple[str, str, str, str, float, str]] = []
    try:
        for condition in args.conditions.split(","):
            count = int(condition.removeprefix("hogs")) if condition.startswith("hogs") else 0
            with running([CPU_HOG] * count):
                load = os.getloadavg()[0]
                print(f"{condition}: load average {load:.1f}", file=sys.stderr, flush=True)
                for run in range(args.runs):
                    for index, (slug, mode) in enumerate(cases):
                        seed = args.first_seed + 37 * run + index
                        names = list(trees) if (run + index) % 2 == 0 else list(trees)[::-1]
                        for name in names:
                            if mode == "all":
                                seconds, verdict = graded_all(trees[name], workspaces[name], seed)
                            else:
                                seconds, verdict = graded_cli(
                                    trees[name], slug, args.solution, seed, mode == "timing"
                                )
                            rows.append((condition, slug, mode, name, seconds, verdict))
                            print(
                                f"  {condition} {slug} {mode} {name} {run + 1}/{args.runs}: "
                                f"{verdict} {seconds:.1f} s (load {os.getloadavg()[0]:.1f})",
                                file=sys.stderr,
                                flush=True,
                            )
    finally:
        for root in workspaces.values():
            shutil.rmtree(root, ignore_errors=True)
    print(table(rows, list(trees)))
    return 0


def table(rows: list[tuple[str, str, str, str, float, str]], names: list[str]) -> str:
    lines = [
        "| condition | case | mode | "
        + " | ".join(f"{n}: median (max) | {n} verdicts" for n in names)
        + " | after / before (medians) |",
        "|---|---|---|" + "---|---|" * len(names) + "---|",
    ]
    for key in dict.fromkeys((r[0], r[1], r[2]) for r in rows):
        cells, medians = [], {}
        for name in names:
            mine = [r for r in rows if (r[0], r[1], r[2]) == key and r[3] == name]
            seconds = [r[4] for r in mine]
            medians[name] = statistics.median(seconds)
            verdicts = ", ".join(f"{v} {n}" for v, n in count([r[5] for r in mine]).items())
            cells += [f"{medians[name]:.1f} s ({max(seconds):.1f})", verdicts]
        both = {"after", "before"} <= set(names)
        ratio = f"{medians['after'] / medians['before']:.2f}" if both else ""
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def count(items: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in items:
        found[item] = found.get(item, 0) + 1
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--after", type=Path, default=Path(__file__).parents[1])
    parser.add_argument("--kata", required=True, help="a slug, several (a,b) or 'all'")
    parser.add_argument("--solution", default="starter", choices=("starter", "reference"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=7000, help="with --cli: seeds from here")
    parser.add_argument("--no-timing", action="store_true", help="grade the counts only")
    parser.add_argument("--cli", action="store_true", help="`perfkata grade` from a shell")
    parser.add_argument(
        "--modes", default="timing", help="with --cli: timing,no-timing,all (grade --all)"
    )
    parser.add_argument(
        "--conditions", default="idle", help="with --cli: idle, hogsN (N CPU busy loops)"
    )
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    if args.cli:
        return matrix(args, trees)
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
