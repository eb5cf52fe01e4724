"""A dramatiq worker process for the image kata on RedisBroker:
`python -m perfkata.katas.image_pipeline.runner CONFIG_JSON`. It loads the learner's
module, binds its actors to a broker on the run's namespace, points the kata's fakes at
the run's Redis tally and rate-limiter keys, and works until SIGTERM. A "victim" stops
dead once the message that stored its Nth photo is processed, and waits to be killed
holding that message unacked."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dramatiq
import redis
from dramatiq.rate_limits.backends import RedisBackend
from sqlalchemy import create_engine

from perfkata.audit import install
from perfkata.isolation import forbid_reading
from perfkata.katas.image_pipeline.app import Plan, new_run, services
from perfkata.katas.image_pipeline.jobs import bind, new_broker
from perfkata.katas.report_worker.jobs import placeholder_broker
from perfkata.katas.report_worker.runner import load
from perfkata.katas.report_worker.store import RedisTally


def hold_after(photos: int, run: Any, tally: RedisTally) -> None:
    """Arm on the Nth photo stored, then hold the thread that stored it once its message
    is processed: mid-chain — the photo stored, the next stage not yet sent, the message
    not acked — and outside any rate-limiter slot the learner's code held around the
    upload (a slot held by a killed worker would stay taken while traffic continues)."""
    stored, armed = [0], threading.local()

    def on_put(key: str) -> None:
        if int(key.split("/")[1]) in run.plan.photos:
            stored[0] += 1
            if stored[0] == photos:
                armed.key = key

    def after_message() -> None:
        if getattr(armed, "key", None) is not None:
            tally.put("victim-holding", armed.key.encode())
            time.sleep(3600)  # until the SIGKILL arrives

    run.on_put.append(on_put)
    run.after_message.append(after_message)


def main(config: dict[str, Any]) -> None:
    install(block=True).learner(config["module"])
    forbid_reading([Path(folder) for folder in config["forbidden"]])
    placeholder_broker()
    module = load(Path(config["module"]))
    client = redis.Redis.from_url(config["redis"]["url"])
    tally = RedisTally(client, config["prefix"])
    plan = Plan.from_dict(config["plan"])
    run = new_run(
        tally,
        plan,
        create_engine(config["db_url"]),
        limits=RedisBackend(client=client),
        prefix=config["prefix"],
    )
    if config["kill_after"]:
        hold_after(config["kill_after"], run, tally)
    services.use(run)
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
