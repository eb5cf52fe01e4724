"""How the grader drives the learner's reports: 200 web requests (statements counted),
5 % of the reports deleted before their jobs run, then the jobs on a fresh broker — in
this process (StubBroker) or in two worker processes (RedisBroker), one of them killed
with SIGKILL mid-job — and finally the audit: what was lost, duplicated, retried."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import QueueJoinTimeout
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfkata.bench.probes.queries import StatementCounter
from perfkata.katas.base import Backends, RunEnv
from perfkata.katas.report_worker import data
from perfkata.katas.report_worker.app import FaultPlan, NetworkError, Storage, current
from perfkata.katas.report_worker.jobs import bind, new_broker
from perfkata.katas.report_worker.models import Report
from perfkata.katas.report_worker.store import MemoryTally, RedisTally, Tally, delete_prefix
from perfkata.ownership import owner_tag

UPLOAD_LATENCY = 0.008  # seconds per upload: the network call the request should not wait for
JOIN_TIMEOUT_S = 60.0
# The starter's request renders (~13 ms each), every round: 8 of them are ~0.1 s, far
# above the ~0.1 ms of a request's IPC; 20 cost each grade ~1 s more on an idle machine and
# moved no ratio (the speed-up scales with both sides; benchmarks/README, 20 vs 40)
TIMED_REQUESTS = 8
THREADS = 4


@contextmanager
def report_services(engine: Engine, backends: Backends) -> Iterator[Mapping[str, Any]]:
    """The Redis client when jobs run on RedisBroker; nothing else lives across a run."""
    if backends.redis_url is None:
        yield {"redis": None, "backends": backends}
        return
    client = redis.Redis.from_url(backends.redis_url)
    try:
        yield {"redis": client, "backends": backends}
    finally:
        client.close()


class Run:
    """One run's fresh pieces: tally, storage (with the seed's faults) and broker — on
    Redis when the grade asked for it, unless `in_process` (a measurement of the
    learner's actor, not of the broker) asks for the StubBroker."""

    def __init__(
        self,
        module: ModuleType,
        env: RunEnv,
        plan: FaultPlan,
        in_process: bool = False,
        latency: float = UPLOAD_LATENCY,
        shared_tally: bool = True,
    ) -> None:
        client = None if in_process else env.services["redis"]
        # swept by the next grade when the grade that owns it was killed
        self.prefix = f"perfkata-run-{owner_tag()}_{uuid.uuid4().hex[:12]}"
        # Job processes add to the counts through Redis; a request path that is only
        # timed keeps them in memory, so the grader's bookkeeping is not what is timed.
        shared = client is not None and shared_tally
        self.tally: Tally = RedisTally(client, self.prefix) if shared else MemoryTally()
        self.plan, self.module_file = plan, str(module.__file__)
        self.storage = Storage(self.tally, plan, latency)
        self.redis: dict[str, Any] | None = None
        if client is not None:
            self.redis = {"url": env.services["backends"].redis_url, "namespace": self.prefix}
        self.broker = new_broker(self.tally, self.module_file, self.redis)
        self.actors = bind(module, self.broker)
        current.use(env.engine, self.storage)

    def plan_as_dict(self) -> dict[str, Any]:
        return {
            "flaky": sorted(self.plan.flaky),
            "doomed": sorted(self.plan.doomed),
            "ambiguous": self.plan.ambiguous,
        }

    def close(self) -> None:
        if self.redis is not None:
            self.broker.flush_all()
            delete_prefix(self.broker.client, self.prefix)  # the namespace's keys too
        self.broker.close()


@contextmanager
def fresh_run(module: ModuleType, env: RunEnv, plan: FaultPlan, **options: Any) -> Iterator[Run]:
    run = Run(module, env, plan, **options)
    try:
        yield run
    finally:
        run.close()


def request_all(module: ModuleType, env: RunEnv, ids: list[int]) -> tuple[int, int]:
    """Each request in its own session, as a web framework does; a NetworkError that
    escapes is the user's HTTP 500. Returns (failed requests, most statements in one)."""
    counter, failed, most = StatementCounter(env.engine), 0, 0
    try:
        for report_id in ids:
            before = counter.count
            with Session(env.engine) as session:
                counter.active = True
                try:
                    module.request_report(session, report_id)
                except NetworkError:
                    failed += 1
                finally:
                    counter.active = False
            most = max(most, counter.count - before)
    finally:
        counter.close()
    return failed, most


def run_jobs(run: Run, env: RunEnv, threads: int = THREADS) -> bool:
    """Work the queues until they are empty; False when they did not empty in time."""
    if run.redis is not None:
        from perfkata.katas.report_worker.processes import run_worker_processes

        return run_worker_processes(run, env)
    worker = dramatiq.Worker(run.broker, worker_threads=threads, worker_timeout=20)
    worker.start()
    try:
        return join_all(run.broker, JOIN_TIMEOUT_S)
    finally:
        worker.stop(timeout=2000)


def join_all(broker: Any, timeout: float) -> bool:
    """Join every queue until a whole pass finds all of them empty (a retry-exhausted
    callback may land on a queue already joined)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            for queue in work_queues(broker):
                join_one(broker, queue, max(1, int((deadline - time.monotonic()) * 1000)))
            if all(queue_empty(broker, q) for q in work_queues(broker)):
                return True
    except QueueJoinTimeout:
        return False


def work_queues(broker: Any) -> list[str]:
    return [q for q in broker.get_declared_queues() if not q.endswith(".DQ")]


def join_one(broker: Any, queue: str, timeout_ms: int) -> None:
    if isinstance(broker, StubBroker):
        broker.join(queue, timeout=timeout_ms, fail_fast=False)
    else:  # RedisBroker: polls the queue, its delay queue and unacked messages
        broker.join(queue, interval=20, timeout=timeout_ms)


def queue_empty(broker: Any, queue: str) -> bool:
    if isinstance(broker, StubBroker):
        return all(not broker.queues[name].unfinished_tasks for name in (queue, f"{queue}.DQ"))
    return int(broker.do_qsize(queue)) == 0


def delete_reports(engine: Engine, ids: frozenset[int]) -> None:
    """The owners delete these reports after asking for them, before any job runs."""
    with Session(engine) as session:
        session.execute(delete(Report).where(Report.id.in_(sorted(ids))))
        session.commit()


def final_state(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {i: status for i, status in session.execute(select(Report.id, Report.status))}


def reset_reports(engine: Engine, ids: list[int]) -> None:
    with Session(engine) as session:
        session.execute(update(Report).where(Report.id.in_(ids)).values(status="pending"))
        session.commit()


def timed_requests(module: ModuleType, env: RunEnv) -> Iterator[Callable[[], Run]]:
    """What a timing sample runs: the request path only, on a fault-free storage. Staged
    (grader.worker.staged): the broker is built before the yield and flushed and closed
    after it, untimed — they cost milliseconds on Redis that no web request pays — and
    the parent times the callable yielded, the requests alone."""
    with fresh_run(module, env, FaultPlan(), shared_tally=False) as run:

        def requests() -> Run:  # what requests_effect reads, after the clock stopped
            for report_id in range(1, TIMED_REQUESTS + 1):
                with Session(env.engine) as session:
                    module.request_report(session, report_id)
            return run

        yield requests
        run.broker.flush_all()


def requests_effect(env: RunEnv, run: Run) -> dict[str, int]:
    """A timed call's effect (katas/effects.py): the jobs its requests enqueued (the
    broker's recorder counts them) and the files they stored themselves (a request that
    still does the work)."""
    ids = range(1, TIMED_REQUESTS + 1)
    stored = sum(run.tally.get(f"file:{data.file_key(i)}") is not None for i in ids)
    return {"requests": TIMED_REQUESTS, "sent": run.tally.count("sent"), "stored": stored}


def verify_requests(dataset: Any, found: dict[str, int]) -> str | None:
    if found["sent"] + found["stored"] >= found["requests"]:
        return None
    return (
        f"its {found['requests']} requests enqueued {found['sent']} jobs and stored "
        f"{found['stored']} files: each request must enqueue its report's job"
    )
