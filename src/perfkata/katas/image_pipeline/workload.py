"""How the grader drives the learner's pipeline: an admin's bulk re-import of the backlog
(the kata's size) and then the users' album uploads, each a request of its own; then
the jobs on a fresh broker — in this process (StubBroker, 4 worker threads) or in two
worker processes (RedisBroker), one SIGKILLed mid-chain — until every album is settled
(emailed, its photos stored). The backlog is never drained: only how much of it ran
before the albums were done is counted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import QueueJoinTimeout
from dramatiq.rate_limits.backends import RedisBackend, StubBackend
from sqlalchemy.orm import Session

from perfkata.katas.base import RunEnv
from perfkata.katas.image_pipeline import data
from perfkata.katas.image_pipeline.app import Plan, StorageUnavailable, new_run, services
from perfkata.katas.image_pipeline.data import SIZES, image_key
from perfkata.katas.image_pipeline.jobs import bind, new_broker
from perfkata.katas.report_worker.store import MemoryTally, RedisTally, Tally, delete_prefix
from perfkata.katas.report_worker.workload import queue_empty, work_queues
from perfkata.ownership import owner_tag

THREADS = 4
SETTLE_TIMEOUT_S = 30.0  # a hang guard: the reference settles in well under 1 s
GRACE_S = 1.0  # after the albums settle, their queues get this long to show late emails
STUCK_AFTER_S = 0.3  # every queue but the backlog's idle this long: the albums are stuck


class Run:
    """One run's fresh pieces: tally, fakes (with the plan's faults), rate-limiter
    backend and broker — on Redis when the grade asked for it, unless `in_process`."""

    def __init__(
        self,
        module: ModuleType,
        env: RunEnv,
        plan: Plan,
        in_process: bool = False,
        shared_tally: bool = True,
    ) -> None:
        client = None if in_process else env.services["redis"]
        self.prefix = f"perfkata-run-{owner_tag()}_{uuid.uuid4().hex[:12]}"
        shared = client is not None and shared_tally
        self.tally: Tally = RedisTally(client, self.prefix) if shared else MemoryTally()
        self.plan, self.module_file = plan, str(module.__file__)
        self.redis: dict[str, Any] | None = None
        if client is not None:
            self.redis = {"url": env.services["backends"].redis_url, "namespace": self.prefix}
        limits: Any = (
            RedisBackend(client=client) if client is not None else StubBackend()  # type: ignore[no-untyped-call]
        )
        services.use(new_run(self.tally, plan, env.engine, limits=limits, prefix=self.prefix))
        self.broker = new_broker(self.tally, self.module_file, self.redis)
        self.actors = bind(module, self.broker)

    def close(self) -> None:
        if self.redis is not None:
            self.broker.flush_all()
            delete_prefix(self.broker.client, self.prefix)
        else:
            self.broker.flush_all()
        self.broker.close()


@contextmanager
def fresh_run(module: ModuleType, env: RunEnv, plan: Plan, **options: Any) -> Iterator[Run]:
    run = Run(module, env, plan, **options)
    try:
        yield run
    finally:
        run.close()


def request(module: ModuleType, env: RunEnv, name: str, argument: Any) -> bool:
    """One web request (its own session, as a framework gives it); the fakes count the
    work done inside it. False when it failed: the user's HTTP 500."""
    services.local.in_request = name
    try:
        with Session(env.engine) as session:
            getattr(module, name)(session, argument)
        return True
    except StorageUnavailable:
        return False
    finally:
        services.local.in_request = None


def album_settled(tally: Tally, plan: Plan, dataset: data.PipelineData, album: int) -> bool:
    """Emailed, and every photo that can be stored is stored in every size."""
    if not tally.count(f"email:{album}"):
        return False
    return all(
        tally.count(f"put:{image_key(photo, size)}")
        for photo in dataset.album_images(album)
        if photo != plan.doomed
        for size in SIZES
    )


def work_until_settled(
    run: Run, env: RunEnv, done: Callable[[], bool], stop_when_stuck: bool = True
) -> bool:
    """Work the queues until `done()` (then a short grace on the users' queues), or until
    nothing is left but the backlog; False when neither happened in time."""
    if run.redis is not None:
        from perfkata.katas.image_pipeline.processes import run_worker_processes

        return run_worker_processes(run, env, lambda: wait_settled(run, done, stop_when_stuck))
    worker = dramatiq.Worker(run.broker, worker_threads=THREADS, worker_timeout=20)
    worker.start()
    try:
        return wait_settled(run, done, stop_when_stuck)
    finally:
        worker.stop(timeout=2000)


def wait_settled(run: Run, done: Callable[[], bool], stop_when_stuck: bool) -> bool:
    """Until `done()`, or until nothing but the backlog is left to work: an album that
    can no longer settle (a photo dead-lettered and never counted, an email never sent)
    does not wait for the whole backlog to drain."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    pause, stuck_after = (0.005, STUCK_AFTER_S) if run.redis is None else (0.02, 1.0)
    idle_since: float | None = None
    while time.monotonic() < deadline:
        if done():
            grace(run)
            return True
        if stop_when_stuck and all_idle(run.broker, skip=bulk_only_queues(run)):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= stuck_after:
                return True  # finished: what was not done will not be
        else:
            idle_since = None
        time.sleep(pause)
    return False


def all_idle(broker: Any, skip: frozenset[str] = frozenset()) -> bool:
    return all(queue_empty(broker, queue) for queue in work_queues(broker) if queue not in skip)


def bulk_only_queues(run: Run) -> frozenset[str]:
    """The queues that carried bulk images' messages and never a user's."""
    return frozenset(
        q
        for q in work_queues(run.broker)
        if run.tally.get(f"queue-bulk:{q}") is not None and run.tally.get(f"queue-user:{q}") is None
    )


def user_queues(run: Run) -> list[str]:
    """The queues that never carried a bulk image's message."""
    return [
        q
        for q in work_queues(run.broker)
        if run.tally.get(f"queue-bulk:{q}") is None and run.tally.get(f"queue-user:{q}")
    ]


def grace(run: Run) -> None:
    """Late emails (one per image, a duplicate callback) land within moments."""
    for queue in user_queues(run):
        try:
            if isinstance(run.broker, StubBroker):
                run.broker.join(queue, timeout=int(GRACE_S * 1000), fail_fast=False)
            else:
                run.broker.join(queue, interval=20, timeout=int(GRACE_S * 1000))
        except QueueJoinTimeout:
            return


def drain(run: Run, env: RunEnv) -> bool:
    """Work every queue until all are empty."""
    return work_until_settled(
        run, env, lambda: all_idle(run.broker) and settle_pause(run), stop_when_stuck=False
    )


def settle_pause(run: Run) -> bool:
    time.sleep(0.02)  # a message between its ack and its successor's enqueue
    return all_idle(run.broker)
