"""A worker's start-up as a grade pays it, for two checkouts side by side: from
WorkerProcess(...) (the fence launcher, the interpreter, the worker's imports, the audit
hook) to the reply to its "load" request (the kata, the engine, the hook's snapshot, the
solution imported). Interleaved runs, each a fresh parent with that checkout's `src`
first on PYTHONPATH (its worker inherits it); medians.

    git worktree add --detach /tmp/before HEAD
    python -m compileall -q /tmp/before/src src   # workers never write .pyc files
    python benchmarks/worker_startup.py --before /tmp/before --runs 20
    PERFKATA_FENCES=basic python benchmarks/worker_startup.py --before /tmp/before
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ONE = """
import time
from pathlib import Path
from perfkata.grader import leftovers
from perfkata.grader.grade import forbidden_to, solution_paths
from perfkata.grader.process import WorkerProcess
from perfkata.grader.tamper import SEAL
from perfkata.katas.registry import get_kata
kata = get_kata({slug!r})
path = solution_paths(kata, Path())[{variant!r}]
with leftovers.owned_by_this_grade(None, None) as owned:
    start = time.perf_counter()
    worker = WorkerProcess({variant!r}, "Your code", path, timeout=60,
                           memory_limit=2 * 1024**3, extra_env=owned)
    worker.call({{"op": "load", "kata": kata.slug, "module": str(path),
                  "forbidden": forbidden_to({variant!r}, path), "seal": SEAL}})
    print(time.perf_counter() - start)
    worker.close()
"""


def started(tree: Path, slug: str, variant: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    code = ONE.format(slug=slug, variant=variant)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--kata", default="n-plus-one-blog")
    parser.add_argument("--variant", default="reference")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(args.runs):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")  # ABBA
        for name in order:
            tree = args.before if name == "before" else args.after
            times[name].append(started(tree, args.kata, args.variant))
    mode = os.environ.get("PERFKATA_FENCES", "strict")
    for name, values in times.items():
        print(
            f"{name:6} {args.kata} fences={mode} n={len(values)}: median "
            f"{statistics.median(values) * 1000:.0f} ms, min {min(values) * 1000:.0f}, "
            f"max {max(values) * 1000:.0f}"
        )
    ratio = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"after/before (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
