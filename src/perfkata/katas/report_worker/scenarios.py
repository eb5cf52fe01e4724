"""The runs the rubric reads: the whole story (requests, deletions, faulty jobs), and the
timed workloads of the learner's actor with one worker thread and with four."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import dramatiq

from perfkata.katas.base import RunEnv, Workload
from perfkata.katas.effects import TimedEffect
from perfkata.katas.report_worker import data
from perfkata.katas.report_worker.app import FaultPlan
from perfkata.katas.report_worker.audit import audit
from perfkata.katas.report_worker.jobs import actors_of
from perfkata.katas.report_worker.workload import (
    JOIN_TIMEOUT_S,
    THREADS,
    Run,
    delete_reports,
    final_state,
    fresh_run,
    join_all,
    request_all,
    reset_reports,
    run_jobs,
)

THROUGHPUT_JOBS = 8  # per timed sample: 0.16 s on one thread, 0.04 s on four, every round
THROUGHPUT_LATENCY = 0.02  # a slower storage, so the jobs are clearly I/O-bound
NO_ACTOR_SECONDS = 0.01  # a solution without an actor: the same fixed time on 1 thread and on 4


def run_reports(module: ModuleType, env: RunEnv) -> dict[str, Any]:
    dataset = data.generate(env.size, env.seed)
    with fresh_run(module, env, FaultPlan.of(dataset)) as run:
        ids = [r["id"] for r in dataset.reports]
        failed, most = request_all(module, env, ids)
        env.record("request_statements", most)
        if failed:
            env.note(
                "lost",
                f"{failed} of {len(ids)} requests failed with a NetworkError (an HTTP 500 for "
                "the user): the upload ran inside the request, with no retry",
            )
        delete_reports(env.engine, dataset.deleted)
        finished = run_jobs(run, env)
        return audit(run, env, dataset, finished)


def has_actor(module: ModuleType, env: RunEnv) -> None:
    """Counted: a solution without an actor is told why its throughput cannot scale."""
    if not actors_of(module):
        env.note(THROUGHPUT_METRIC, "no job ran: reports.py declares no dramatiq actor")


def jobs_on(threads: int) -> Workload:
    """A timed workload (interleaved with the reference's, see grader.timing): the same
    I/O-bound jobs worked by `threads` worker threads. Staged: enqueueing and the
    broker's set-up happen before the yield, untimed; the parent times the working of
    the queue alone."""

    def work(module: ModuleType, env: RunEnv) -> Iterator[Callable[[], Any]]:
        if not actors_of(module):  # nothing can overlap: the same cost on any thread count
            yield lambda: time.sleep(NO_ACTOR_SECONDS)
            return
        dataset = data.generate(env.size, env.seed)
        faulty = dataset.flaky | dataset.deleted | dataset.doomed | {dataset.ambiguous}
        ids = [r["id"] for r in dataset.reports if r["id"] not in faulty][:THROUGHPUT_JOBS]
        reset_reports(env.engine, ids)
        options = {"in_process": True, "latency": THROUGHPUT_LATENCY}
        with fresh_run(module, env, FaultPlan(), **options) as run:
            request_all(module, env, ids)
            held = held_back(run.broker)
            # started idle on empty queues: its threads' start and stop stay untimed
            worker = dramatiq.Worker(run.broker, worker_threads=threads, worker_timeout=20)
            worker.start()
            try:
                yield TimedJobs(run, ids, held).work
            finally:
                worker.stop(timeout=2000)

    return work


@dataclass
class TimedJobs:
    """One throughput sample's jobs: worked in the timed call, their effect read after it
    (jobs_done)."""

    run: Run
    ids: list[int]
    held: dict[str, list[bytes]]
    emptied: bool = False

    def work(self) -> TimedJobs:
        self.emptied = worked(self.run.broker, self.held)
        return self


def jobs_done(env: RunEnv, jobs: TimedJobs | None) -> dict[str, Any]:
    """A throughput sample's effect (katas/effects.py): each of its reports done, with its
    file stored. (A solution without an actor times a fixed sleep: nothing to check.)"""
    if jobs is None:
        return {"jobs": 0, "emptied": True, "undone": []}
    statuses = final_state(env.engine)
    undone = [
        i
        for i in jobs.ids
        if statuses.get(i) != "done" or jobs.run.tally.get(f"file:{data.file_key(i)}") is None
    ]
    return {"jobs": len(jobs.ids), "emptied": jobs.emptied, "undone": undone}


def verify_jobs(dataset: Any, found: dict[str, Any]) -> str | None:
    if not found["emptied"]:
        return f"the queues of its {found['jobs']} jobs did not empty in {JOIN_TIMEOUT_S:.0f} s"
    if found["undone"]:
        return (
            f"{len(found['undone'])} of its {found['jobs']} jobs (all without faults) did not "
            f"finish their report: report {found['undone'][0]} is not done with its file stored"
        )
    return None


def held_back(broker: Any) -> dict[str, list[bytes]]:
    """The messages the requests sent, taken off the (in-process) broker's queues."""
    held: dict[str, list[bytes]] = {}
    for name, queue in broker.queues.items():
        while not queue.empty():
            held.setdefault(name, []).append(queue.get_nowait())
            queue.task_done()
    return held


def worked(broker: Any, held: dict[str, list[bytes]]) -> bool:
    """The timed part: the held messages put back where the idle threads wait for them
    (a blocked get wakes at once), and the queues worked until empty."""
    for name, messages in held.items():
        for message in messages:
            broker.queues[name].put(message)
    return join_all(broker, JOIN_TIMEOUT_S)


TIMED_THROUGHPUT = {"jobs-1-thread": jobs_on(1), "jobs-4-threads": jobs_on(THREADS)}
JOBS_EFFECT = TimedEffect(jobs_done, verify_jobs)
THROUGHPUT_METRIC = "ratio:jobs-1-thread/jobs-4-threads"
