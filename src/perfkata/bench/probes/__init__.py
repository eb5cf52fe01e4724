"""Probes: small objects with `before`/`after` hooks, run in order and reverse order.

Modelled on dramatiq's middleware: each probe lives in its own module, knows one thing,
and contributes its numbers to `results()`. A `ProbeRun` wraps one workload call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from perfkata.bench.sourceline import LearnerFiles


@dataclass
class ProbeContext:
    """What a probe may look at: the engine the workload uses, the models, whose code it is."""

    engine: Engine
    model_base: type[DeclarativeBase]
    learner_files: LearnerFiles
    extras: dict[str, Any] = field(default_factory=dict)


class Probe:
    """Base class: override `before`, `after` and `results`."""

    name = "probe"

    def before(self, ctx: ProbeContext) -> None:
        """Install hooks; called before the workload, in probe order."""

    def after(self, ctx: ProbeContext) -> None:
        """Remove hooks and settle numbers; called in reverse probe order."""

    def results(self) -> dict[str, Any]:
        return {}


@contextmanager
def probe_run(probes: Sequence[Probe], ctx: ProbeContext) -> Iterator[dict[str, Any]]:
    """Run the probes around the body; the yielded dict is filled in on exit."""
    results: dict[str, Any] = {}
    started: list[Probe] = []
    try:
        for probe in probes:
            probe.before(ctx)
            started.append(probe)
        yield results
    finally:
        for probe in reversed(started):
            probe.after(ctx)
    for probe in probes:
        results.update(probe.results())
