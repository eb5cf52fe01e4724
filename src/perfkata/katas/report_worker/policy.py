"""The retry policy an actor declares, read the way dramatiq's Retries middleware applies
it: once `retry_when` is set it alone decides (max_retries is ignored), and it is asked
`retry_when(retries_so_far, exception)` before every retry; otherwise the actor's
max_retries, or the middleware's default of 20."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dramatiq.middleware import Retries

PROBE_LIMIT = 25  # retry_when is asked up to this many retries; beyond, it is unbounded


@dataclass(frozen=True)
class Policy:
    retries: float  # how many retries of a network error dramatiq would make (inf: no end)
    how: str  # what in the actor's declaration decides it

    def describe(self, actor: str) -> str:
        times = "forever" if math.isinf(self.retries) else f"{self.retries:g} times"
        return f"{actor} would retry a failing upload {times} ({self.how})"


def declared_policy(actor: Any, broker: Any, error: BaseException) -> Policy:
    retries = next((m for m in broker.middleware if isinstance(m, Retries)), None)
    retry_when = actor.options.get("retry_when", getattr(retries, "retry_when", None))
    if retry_when is not None:
        return probed(retry_when, error, actor.options.get("max_retries"))
    if "max_retries" in actor.options:
        limit = actor.options["max_retries"]
        if limit is None:
            return Policy(math.inf, "max_retries=None")
        return Policy(limit, f"max_retries={limit}")
    default = getattr(retries, "max_retries", 20)
    return Policy(
        math.inf if default is None else default,
        "it sets no max_retries, so dramatiq's default applies: 20 retries spread over "
        "about a month",
    )


def probed(retry_when: Any, error: BaseException, max_retries: Any) -> Policy:
    """Ask the predicate, as dramatiq does, until it says no."""
    ignored = ""
    if max_retries is not None:
        ignored = f"; dramatiq ignores max_retries={max_retries} once retry_when is set"
    name = getattr(retry_when, "__name__", "retry_when")
    for done in range(PROBE_LIMIT + 1):
        try:
            again = retry_when(done, error)
        except Exception as exc:  # the learner's predicate: report, never crash the grade
            return Policy(0, f"retry_when raised {type(exc).__name__} when asked")
        if not again:
            return Policy(done, f"retry_when={name} says no after {done}{ignored}")
    return Policy(
        math.inf,
        f"retry_when={name} decides, and retry_when({PROBE_LIMIT}, "
        f"{type(error).__name__}(…)) still returns True{ignored}",
    )
