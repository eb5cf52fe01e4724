"""Release several threads at the same instant (a Barrier), as a burst of requests or two
schedulers would arrive, and collect what each returned."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def release_together(count: int, action: Callable[[], T]) -> list[T]:
    """Run `action` in `count` threads released together; the first error is re-raised
    here, so it reaches the caller (and the learner's line) instead of dying in a thread."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            value = action()
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
