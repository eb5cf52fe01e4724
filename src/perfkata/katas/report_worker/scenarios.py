"""The runs the rubric reads: the whole story (requests, deletions, faulty jobs), and the
timed workloads of the learner's actor with one worker thread and with four."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from perfkata.katas.base import RunEnv, Workload
from perfkata.katas.report_worker import data
from perfkata.katas.report_worker.app import FaultPlan
from perfkata.katas.report_worker.audit import audit
from perfkata.katas.report_worker.jobs import actors_of
from perfkata.katas.report_worker.workload import (
    THREADS,
    delete_reports,
    fresh_run,
    request_all,
    reset_reports,
    run_jobs,
    stopwatch,
)

THROUGHPUT_JOBS = 12  # per timed sample: 0.36 s on one thread, 0.09 s on four, every round
THROUGHPUT_LATENCY = 0.03  # a slower storage, so the jobs are clearly I/O-bound


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
    I/O-bound jobs worked by `threads` worker threads. Only the working of the queue is
    timed; enqueueing and the broker's set-up are not."""

    def work(module: ModuleType, env: RunEnv) -> None:
        if not actors_of(module):  # nothing can overlap: the same cost on any thread count
            env.record("timed_seconds", 1.0)
            return
        dataset = data.generate(env.size, env.seed)
        faulty = dataset.flaky | dataset.deleted | dataset.doomed | {dataset.ambiguous}
        ids = [r["id"] for r in dataset.reports if r["id"] not in faulty][:THROUGHPUT_JOBS]
        reset_reports(env.engine, ids)
        options = {"in_process": True, "latency": THROUGHPUT_LATENCY}
        with fresh_run(module, env, FaultPlan(), **options) as run:
            request_all(module, env, ids)
            env.record("timed_seconds", stopwatch(lambda: run_jobs(run, env, threads)))

    return work


TIMED_THROUGHPUT = {"jobs-1-thread": jobs_on(1), "jobs-4-threads": jobs_on(THREADS)}
THROUGHPUT_METRIC = "ratio:jobs-1-thread/jobs-4-threads"
