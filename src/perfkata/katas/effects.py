"""What a timed call must leave behind. The counted runs check a workload's output; a
timing sample is a separate call, and code that behaves differently when nothing
watches it (no statement listeners, no tracemalloc, its tenth call) could return at
once there. A kata whose timed workload has an effect the oracle can judge — the rows
a cleanup job left, the pages a read returned, the jobs a request enqueued — names it
here, per timed kind, in its extras["timed_effects"]: the worker observes it after the
timed call (untimed, in the "timed_output" request) and the parent verifies it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfkata.katas.base import Kata, RunEnv


@dataclass(frozen=True)
class TimedEffect:
    # in the worker, after the call: (the call's RunEnv, its output) -> plain data
    observe: Callable[[RunEnv, Any], Any]
    # in the parent: (the oracle's dataset, what observe returned) -> the difference or None
    verify: Callable[[Any, Any], str | None]


def timed_effect(kata: Kata, kind: str) -> TimedEffect | None:
    effects: dict[str, TimedEffect] = kata.extras.get("timed_effects", {})
    return effects.get(kind)
