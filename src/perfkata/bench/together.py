"""Release several threads, or processes, at the same instant (a Barrier), as a burst of
requests or two schedulers would arrive, and collect what each returned."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

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


class ChildFailed(RuntimeError):
    """What a forked process raised (or that it died or hung), told in the parent."""


def release_together_in_processes(
    count: int,
    action: Callable[[], T],
    after_fork: Callable[[], None] = lambda: None,
    timeout: float = 30.0,
) -> list[T]:
    """Like release_together, but each caller is its own forked process — two schedulers
    on two machines share nothing but the database or Redis, and a lock in Python memory
    (or a GIL-timed race) cannot pass for a claim. `after_fork` runs first in each child,
    e.g. to drop connections inherited from the parent. Results must pickle."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(count)
    queue = context.SimpleQueue()

    def child() -> None:
        try:
            after_fork()
            barrier.wait(timeout)
            queue.put(("ok", action()))
        except BaseException as exc:  # reported to the parent, never lost in a child
            queue.put(("error", f"{type(exc).__name__}: {exc}"))
        finally:
            os._exit(0)  # no atexit, no flushing of the parent's buffers twice

    processes = [context.Process(target=child, daemon=True) for _ in range(count)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    return collect(processes, queue, count, timeout)


def collect(processes: list[Any], queue: Any, count: int, timeout: float) -> list[Any]:
    hung = [process for process in processes if process.is_alive()]
    for process in hung:
        process.kill()
    if hung:
        raise ChildFailed(f"{len(hung)} of {count} processes did not finish within {timeout:g} s")
    outcomes = [queue.get() for _ in range(count) if not queue.empty()]
    errors = [value for status, value in outcomes if status == "error"]
    if errors:
        raise ChildFailed(errors[0])
    if len(outcomes) < count:
        raise ChildFailed(f"{count - len(outcomes)} of {count} processes died without an answer")
    return [value for _, value in outcomes]
