import os
import threading

import pytest

from perfkata.bench.together import (
    ChildFailed,
    release_together,
    release_together_in_processes,
)


def test_all_threads_run_and_overlap():
    # Each action waits until all six are running at once: only threads that really
    # overlap get past it (one at a time would break the barrier at its hang guard).
    all_running = threading.Barrier(6, timeout=60)

    def action() -> int:
        return all_running.wait()

    assert sorted(release_together(6, action)) == list(range(6))


def test_an_error_in_a_thread_reaches_the_caller():
    def action() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        release_together(3, action)


def test_processes_share_nothing_but_what_is_outside(tmp_path):
    # Given a counter in Python memory and a file each process appends to
    counter = [0]
    log = tmp_path / "log"

    def action() -> int:
        counter[0] += 1  # a forked copy: the parent never sees this
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return counter[0]

    # When three processes are released together
    results = release_together_in_processes(3, action)

    # Then each saw its own copy, and three different processes ran
    assert results == [1, 1, 1]
    assert counter == [0]
    assert len(set(log.read_text().split())) == 3
    assert str(os.getpid()) not in log.read_text().split()


def test_a_child_error_or_hang_is_told_in_the_parent():
    def fails() -> None:
        raise KeyError("boom")

    with pytest.raises(ChildFailed, match="KeyError: 'boom'"):
        release_together_in_processes(2, fails)
    # The timeout also bounds the children's start (their barrier): 3 s, not 0.5, so that a
    # busy machine slow to fork them cannot turn the hang into a broken barrier.
    with pytest.raises(ChildFailed, match=r"did not finish within 3 s"):
        release_together_in_processes(2, lambda: threading.Event().wait(), timeout=3)
