"""A solution that patches the clocks in its worker gets no speed-up from it: every timed
call is timed by the parent (grader.timing.parent_timed), from its request to its reply.

The cheats are the blog's reference with a real `time.sleep(SLEEP)` added to each call
and time.perf_counter / monotonic / time (and their _ns twins) replaced at import by a
frozen clock or one running 1000x slow. `sleep` waits on the kernel's clock, which no
patch reaches, so each call truly lasts at least SLEEP: a sample measured below it is
the fake clock's figure (0 for the frozen one, a thousandth for the slow one). No
machine-speed threshold: the bound holds on any machine, however busy.

Mutation checked: the parent taking the worker's own perf_counter reading instead of
its round trip (as `timed_calls` did before): both cases failed, the frozen clock's
samples read 0.0 s.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkata.errors import LearnerCodeError
from perfkata.grader.grade import Datasets, GradeOptions, Sampler, broadcast, worker_pool
from perfkata.katas.files import solution_dir
from perfkata.katas.n_plus_one_blog import KATA

SLEEP = 0.05  # seconds each cheat's call really lasts, at least
SEED = 11

CLOCKS = {
    "frozen": "lambda: 1000.0",
    "thousandth": "(lambda real: lambda: real() / 1000)(_time.perf_counter)",
}
PATCH = """
import time as _time

_honest = render_index


def render_index(session):
    _time.sleep({sleep})  # real time: the kernel's clock, which no patch below reaches
    return _honest(session)


_fake = {clock}
_time.perf_counter = _time.monotonic = _time.time = _fake
_time.perf_counter_ns = _time.monotonic_ns = _time.time_ns = lambda: int(_fake() * 1e9)
"""


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A folder the fenced worker's uid may read (pytest's tmp_path is private)."""
    folder = Path(tempfile.mkdtemp(prefix="perfkata-clock-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def cheat(folder: Path, clock: str) -> Path:
    reference = (solution_dir(KATA.slug) / KATA.main_file).read_text(encoding="utf-8")
    path = folder / KATA.main_file
    path.write_text(reference + PATCH.format(sleep=SLEEP, clock=clock), encoding="utf-8")
    path.chmod(0o644)
    return path


def learner_samples(path: Path, count: int) -> list[float]:
    """`count` timed samples of the learner, through the grade's own sampler."""
    paths = {"learner": path}
    with worker_pool(KATA, paths, GradeOptions(seed=SEED), ["learner"]) as workers:
        sampler = Sampler(KATA, workers, SEED, Datasets(KATA))
        broadcast(workers, sampler.warm_request)
        return [sampler("learner", "timed") for _ in range(count)]


@pytest.mark.parametrize("clock", sorted(CLOCKS))
def test_a_patched_clock_in_the_worker_does_not_shorten_the_measured_call(
    tmp_path, monkeypatch, readable_dir, clock
):
    monkeypatch.setenv("PERFKATA_CACHE_DIR", str(tmp_path / "cache"))
    # Given the reference, slowed by a real sleep, with every clock of its process faked
    path = cheat(readable_dir, CLOCKS[clock])
    try:
        # When its timed calls are sampled as in a grade
        samples = learner_samples(path, 3)
    except LearnerCodeError as flagged:  # or the patch is caught as tampering: also fine
        assert "tamper" in flagged.message
        return
    # Then each lasted at least the sleep it really slept: what the fake clock would
    # report (0, or a thousandth) never reaches the figure a speed-up is built on
    assert all(seconds >= SLEEP for seconds in samples), samples
