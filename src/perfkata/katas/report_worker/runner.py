"""A dramatiq worker process for the report kata on RedisBroker:
`python -m perfkata.katas.report_worker.runner CONFIG_JSON`. It loads the learner's
module, binds its actors to a broker on the run's namespace, points the kata's storage at
the run's Redis tally, and works until SIGTERM. A "victim" stops dead after its Nth
stored file and waits to be killed, still holding that message unacknowledged."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import redis
from sqlalchemy import create_engine

from perfkata.audit import install
from perfkata.isolation import forbid_reading
from perfkata.katas.report_worker.app import FaultPlan, Storage, current
from perfkata.katas.report_worker.jobs import bind, new_broker, placeholder_broker
from perfkata.katas.report_worker.store import RedisTally


def load(path: Path) -> ModuleType:
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"perfkata_job_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hold_after(uploads: int, tally: RedisTally) -> Any:
    stored = [0]

    def hook(key: str) -> None:
        stored[0] += 1
        if stored[0] == uploads:
            tally.put("victim-holding", key.encode())
            time.sleep(3600)  # until the SIGKILL arrives

    return hook


def main(config: dict[str, Any]) -> None:
    # The grade's worker's audit hook, before the learner's module is loaded: here no
    # reply carries its evidence, so tampering is refused where it is attempted.
    install(block=True).learner(config["module"])
    forbid_reading([Path(folder) for folder in config["forbidden"]])  # the worker's, here too
    placeholder_broker()
    module = load(Path(config["module"]))
    tally = RedisTally(redis.Redis.from_url(config["redis"]["url"]), config["prefix"])
    plan = FaultPlan(
        frozenset(config["plan"]["flaky"]),
        frozenset(config["plan"]["doomed"]),
        config["plan"]["ambiguous"],
    )
    storage = Storage(tally, plan, config["latency"])
    if config["kill_after"]:
        storage.on_upload.append(hold_after(config["kill_after"], tally))
    current.use(create_engine(config["db_url"]), storage)
    broker = new_broker(tally, config["module"], {**config["redis"], "consumer": True})
    bind(module, broker)
    worker = dramatiq.Worker(broker, worker_threads=config["threads"], worker_timeout=50)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    worker.start()
    stopping.wait()
    worker.stop(timeout=2000)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
