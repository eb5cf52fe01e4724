"""What the parent's counting proxies (grader/proxy.py) cost a timed sample: the
reference's timed workload in two workers side by side, one talking to PostgreSQL and
Redis directly, one through the proxies, as a grade runs them — each call timed by this
process from request to reply (grader.timing.parent_timed), interleaved in random order
per round; the median of the per-round ratios (proxied / direct).

    python benchmarks/proxy_overhead.py [KATA ...] [--rounds N]
      (PERFKATA_DB_URL / PERFKATA_REDIS_URL, else the local test servers)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from perfkata.grader import tamper
from perfkata.grader.database import drop_schema, new_schema_name
from perfkata.grader.grade import off_the_network, solution_paths
from perfkata.grader.process import WorkerProcess
from perfkata.grader.proxy import WorkerProxies
from perfkata.grader.timing import parent_timed
from perfkata.katas.registry import get_kata

DB = os.environ.get("PERFKATA_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("PERFKATA_REDIS_URL", "redis://127.0.0.1:6379/15")
SEED = 4242


def started(
    stack: ExitStack, slug: str, label: str, db: str, redis: str, proxies: WorkerProxies | None
) -> WorkerProcess:
    """A worker fenced as a grade's: off the network when its servers are proxied."""
    kata = get_kata(slug)
    path = solution_paths(kata, Path("unused"))["reference"]
    schema = new_schema_name()
    stack.callback(drop_schema, DB, schema)  # after the worker is gone: it holds locks
    worker = WorkerProcess(
        label, label, path, timeout=120, memory_limit=4 * 1024**3, fenced=off_the_network(proxies)
    )
    stack.callback(worker.close)
    load = {"op": "load", "kata": slug, "module": str(path), "schema": schema}
    load["seal"] = getattr(tamper, "SEAL", None)  # the worker signs its replies with it
    worker.call({**load, "db_url": db, "redis_url": redis, "cache_dir": None})
    return worker


def plain_tcp(url: str) -> str:
    return make_url(url).update_query_dict({"sslmode": "disable"}).render_as_string(False)


def medians(slug: str, kinds: list[str], rounds: int) -> dict[str, float]:
    """Per timed kind: the median over rounds of proxied / direct."""
    kata = get_kata(slug)
    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="perfkata-proxybench-"))
        stack.callback(shutil.rmtree, folder, True)
        proxies = WorkerProxies(folder / "sockets", DB, REDIS)
        stack.callback(proxies.close)
        workers = {
            # the proxied URL disables TLS; so does the direct one, to compare the hop alone
            "direct": started(stack, slug, "direct", plain_tcp(DB), REDIS, None),
            "proxied": started(
                stack, slug, "proxied", proxies.db_url or "", proxies.redis_url or "", proxies
            ),
        }
        setup: dict[str, Any] = {"seed": SEED, "rotated": False}
        for worker in workers.values():
            worker.call({"op": "warm", "kinds": kinds, **setup})
        ratios: dict[str, list[float]] = {kind: [] for kind in kinds}
        absolute: dict[tuple[str, str], list[float]] = {
            (kind, label): [] for kind in kinds for label in workers
        }
        for _ in range(rounds):
            for kind in kinds:
                seconds = {}
                for label in random.sample(list(workers), 2):
                    call = workers[label].call
                    seconds[label] = parent_timed(
                        call, {**setup, "kind": kind}, kata.timing_repeats, True
                    )
                ratios[kind].append(seconds["proxied"] / seconds["direct"])
                for label, value in seconds.items():
                    absolute[kind, label].append(value)
        for (kind, label), values in absolute.items():
            print(f"{slug:18} {kind:14} {label:8} median {statistics.median(values) * 1000:.2f} ms")
        counts = proxies.counts()
        redis = sum(counts["redis"].values())
        print(f"{slug}: the proxies counted {dict(counts['postgresql'])}, {redis} Redis commands")
    return {kind: statistics.median(values) for kind, values in ratios.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("katas", nargs="*", default=["n-plus-one-blog", "report-worker"])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for slug in args.katas:
        kata = get_kata(slug)
        kinds = ["timed", *kata.extras.get("timed", {})]
        for kind, ratio in medians(slug, kinds, args.rounds).items():
            print(f"{slug:18} {kind:14} proxied/direct median {ratio:.3f}")


if __name__ == "__main__":
    main()
