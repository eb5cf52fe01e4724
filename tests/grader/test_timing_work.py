"""Every timed sample does the work it claims to: after each of the learner's timed calls
the parent asks the worker for the call's effect (the rows a cleanup left, the pages a
read served, the jobs a request enqueued or a worker finished) and checks it, off the
clock. A solution that does its work on its first call (the warm-up) and skips it on
every later one — as code that notices it is timed would — fails the correctness gate.

The workers here answer in this process (the parent's Sampler calls the worker's ops
directly): no process, no clock assertion, the same requests a grade sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perfkata.errors import TamperingDetected
from perfkata.grader.grade import Datasets, Sampler, StaleAnswer, solution_paths
from perfkata.grader.timing import parent_timed
from perfkata.grader.worker import OPS, WorkerState, op_load
from perfkata.katas.base import Kata
from perfkata.katas.cached_catalog import KATA as CATALOG
from perfkata.katas.cached_catalog.workload import TIMED_READS
from perfkata.katas.cleanup_cron import KATA as CLEANUP
from perfkata.katas.report_worker import KATA as REPORTS
from perfkata.katas.report_worker.scenarios import THROUGHPUT_JOBS
from perfkata.katas.report_worker.workload import TIMED_REQUESTS

SEED = 11

# Prepended to a copy of the reference: `later()` is true from the (n+1)-th call on.
COUNTER = """
CALLS = [0]


def later(n):
    CALLS[0] += 1
    return CALLS[0] > n
"""


class InProcess:
    """A worker whose requests are answered by the worker's ops in this process; it
    keeps the ops it was sent, in order."""

    def __init__(self, state: WorkerState) -> None:
        self.state = state
        self.sent: list[str] = []

    def call(self, request: dict[str, Any], timeout: float | None = None) -> Any:
        self.sent.append(request["op"])
        return OPS[request["op"]](self.state, request)

    def close(self) -> None:
        self.state.timing_services.close()


@pytest.fixture
def learner(tmp_path):
    """A loaded in-process worker for a kata's solution (a path, or its reference)."""
    made: list[InProcess] = []

    def load(kata: Kata, solution: Path | None = None) -> InProcess:
        state = WorkerState(scratch=tmp_path / f"scratch{len(made)}")
        state.scratch.mkdir()
        path = solution or solution_paths(kata, tmp_path)["reference"]
        op_load(state, {"kata": kata.slug, "module": str(path)})
        made.append(InProcess(state))
        return made[-1]

    yield load
    for worker in made:
        worker.close()


def lazy_copy(kata: Kata, folder: Path, replace: tuple[str, str]) -> Path:
    """The reference, changed so that one of its steps is skipped after the n-th call."""
    source = solution_paths(kata, folder)["reference"].read_text(encoding="utf-8")
    old, new = replace
    assert old in source, f"the reference of {kata.slug} changed: {old!r} not found"
    path = folder / kata.main_file
    path.write_text(COUNTER + source.replace(old, new, 1), encoding="utf-8")
    return path


def sample_of(kata: Kata, worker: InProcess, kind: str = "timed") -> float:
    """One timed sample of the learner, as a grade takes it (warmed first)."""
    sampler = Sampler(kata, {"learner": worker}, SEED, Datasets(kata))  # type: ignore[dict-item]
    worker.call(sampler.warm_request("learner"))
    return sampler("learner", kind)


def test_every_timed_call_of_the_learner_is_checked(learner, monkeypatch):
    # Given the cleanup reference, which does its work on every call, and a record of
    # the effects the parent checks
    worker, checked = learner(CLEANUP), []
    verify = Sampler.check_effect
    monkeypatch.setattr(
        Sampler, "check_effect", lambda self, *args: checked.append(args) or verify(self, *args)
    )
    # When one timed sample is taken (a fast job repeats its call to fill the sample)
    sample_of(CLEANUP, worker)
    # Then it passed, with one check per timed call: a repeat's set-up brings back the
    # call before it, and the last call is asked for on its own
    assert checked and len(checked) == worker.sent.count("timed_call")
    assert worker.sent[-2:] == ["timed_call", "timed_output"]


def test_a_cleanup_that_skips_its_work_after_the_first_call_fails_the_gate(learner, tmp_path):
    # Given a cleanup that deletes nothing from its second call on (the first is the
    # untimed warm-up, so only timed calls skip)
    skipping = (
        "def expire_sessions(session, now):\n",
        "def expire_sessions(session, now):\n    if later(1):\n        return 0\n",
    )
    worker = learner(CLEANUP, lazy_copy(CLEANUP, tmp_path, skipping))
    # When timed, Then the sample is refused, saying which rows the timed run left
    with pytest.raises(StaleAnswer) as caught:
        sample_of(CLEANUP, worker)
    reason = caught.value.reason
    assert reason.startswith("a timed run at N=5,000 did not do its work (sessions: 5,000 rows")
    assert "should remain" in reason and "behaves differently when timed" in reason


def test_a_catalog_that_serves_nothing_after_its_warm_reads_fails_the_gate(learner, tmp_path):
    # Given a catalog whose product pages are empty once the warm-up's reads are done
    skipping = (
        "def product_page(session, cache, product_id):\n",
        f"def product_page(session, cache, product_id):\n    if later({TIMED_READS}):\n"
        "        return {}\n",
    )
    worker = learner(CATALOG, lazy_copy(CATALOG, tmp_path, skipping))
    with pytest.raises(StaleAnswer) as caught:
        sample_of(CATALOG, worker)
    assert "timed reads were wrong; the first, product_page(" in caught.value.reason


def test_the_catalog_reference_passes_its_timed_check(learner):
    assert sample_of(CATALOG, learner(CATALOG)) > 0


def test_report_requests_that_enqueue_nothing_when_timed_fail_the_gate(learner, tmp_path):
    # Given a request path that stops sending jobs after the warm-up's requests
    skipping = (
        "def request_report(session, report_id):\n",
        f"def request_report(session, report_id):\n    if later({TIMED_REQUESTS}):\n"
        "        return\n",
    )
    worker = learner(REPORTS, lazy_copy(REPORTS, tmp_path, skipping))
    with pytest.raises(StaleAnswer) as caught:
        sample_of(REPORTS, worker)
    assert f"its {TIMED_REQUESTS} requests enqueued 0 jobs and stored 0 files" in (
        caught.value.reason
    )


@pytest.mark.parametrize("kind", ["jobs-1-thread", "jobs-4-threads"])
def test_report_jobs_that_do_nothing_when_timed_fail_the_gate(learner, tmp_path, kind):
    # Given a job that returns at once after the warm-up's jobs (one warm-up per kind)
    skipping = (
        "def generate_report(report_id):\n",
        f"def generate_report(report_id):\n    if later({2 * THROUGHPUT_JOBS}):\n        return\n",
    )
    worker = learner(REPORTS, lazy_copy(REPORTS, tmp_path, skipping))
    with pytest.raises(StaleAnswer) as caught:
        sample_of(REPORTS, worker, kind)
    assert f"of its {THROUGHPUT_JOBS} jobs (all without faults) did not finish" in (
        caught.value.reason
    )


def test_the_report_reference_passes_its_timed_checks(learner):
    worker = learner(REPORTS)
    for kind in ("timed", "jobs-1-thread", "jobs-4-threads"):
        assert sample_of(REPORTS, worker, kind) > 0


def test_parent_timed_checks_every_call_off_the_clock():
    # Given a worker that reports which call left each effect, and a clock that moves
    # only when read
    ticks, log, calls = iter(range(100)), [], [0]

    def call(request: dict[str, Any]) -> Any:
        log.append(request["op"])
        if request["op"] == "timed_call":
            calls[0] += 1
            return 0.5  # the worker's own figure, within the parent's tick around it
        left = f"call {calls[0]}"  # what the last call left behind
        if request["op"] == "timed_output":
            return left
        return {"observed": left if request.get("repeat") else None}

    checked: list[Any] = []
    # When a sample takes three calls
    seconds = parent_timed(call, {}, 3, fill=False, clock=lambda: next(ticks), check=checked.append)
    # Then each call's effect was checked once, in order, the last one asked for apart
    assert checked == ["call 1", "call 2", "call 3"]
    assert log == ["timing_setup", "timed_call"] * 3 + ["timed_output"]
    assert seconds == 0.5


def test_a_call_said_to_outlast_its_request_is_tampering():
    # Given a worker whose timed call claims 5 s inside a request the parent saw take 1 s
    ticks = iter(range(100))

    def call(request: dict[str, Any]) -> Any:
        return 5.0 if request["op"] == "timed_call" else {"observed": None}

    # Then the sample is refused as forged, not used. Mutation tried: `bounded` returning
    # the worker's figure unchecked → no error, the sample is 5.0 s.
    with pytest.raises(TamperingDetected, match="tampering detected: the worker said"):
        parent_timed(call, {}, 1, fill=False, clock=lambda: next(ticks))
