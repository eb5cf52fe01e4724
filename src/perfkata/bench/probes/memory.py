"""Peak Python allocation during the workload (tracemalloc).

Run in its own pass: tracing every allocation slows Python code by 1.1–3x, so a run that
measures memory never measures time.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from perfkata.bench.probes import Probe, ProbeContext


class AllocationProbe(Probe):
    name = "memory"

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._baseline = 0
        self._started_here = False

    def before(self, ctx: ProbeContext) -> None:
        gc.collect()
        if not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_here = True
        tracemalloc.reset_peak()
        self._baseline = tracemalloc.get_traced_memory()[0]

    def after(self, ctx: ProbeContext) -> None:
        _, peak = tracemalloc.get_traced_memory()
        self.peak_bytes = max(0, peak - self._baseline)
        if self._started_here:
            tracemalloc.stop()

    def results(self) -> dict[str, Any]:
        return {"peak_bytes": self.peak_bytes}
