import threading

import pytest

from perfkata.bench.together import release_together


def test_all_threads_run_and_overlap():
    inside, most, lock = [0], [0], threading.Lock()

    def action() -> int:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        threading.Event().wait(0.05)
        with lock:
            inside[0] -= 1
        return 1

    assert release_together(6, action) == [1] * 6
    assert most[0] > 1  # released together, they really ran at the same time


def test_an_error_in_a_thread_reaches_the_caller():
    def action() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        release_together(3, action)
