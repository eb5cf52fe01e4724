"""Peak Python allocation during the workload (tracemalloc), counting what the code keeps
alive rather than the garbage the collector has not reached yet.

Run in its own pass: tracing every allocation slows Python code by 1.1–3x, so a run that
measures memory never measures time.

tracemalloc's peak also holds reference cycles that are already garbage (SQLAlchemy's
results and transactions form some) until a collection happens to run. How many pile up
depends on how many statements ran, so left alone the peak grew with the number of
batches: select-ids loops of 1000/500/250/100 ids measured +7/+13/+18/+32 B per row at
the same live memory. So the probe collects at statement boundaries, once at least
`collect_every` bytes were allocated since the last collection: at most that much garbage
(plus one statement's) is ever counted, the same at every size. The objects alive before
the run are frozen (gc.freeze), so each collection walks only what the run created.

But a full collection walks everything the run keeps alive: a job holding a 10,000-row
table and deleting it row by row collected every few statements and spent 36 s of a
45 s memory pass walking that table. So the allowance grows with what is alive: at
most `collect_every` bytes of garbage, or 1/LIVE_SHARE of the run's live memory if
that is more. A run keeping less than LIVE_SHARE * collect_every (320 KB; the cleanup
reference keeps ~260 KB) is measured exactly as before; above it the garbage counted
stays within 5 % of what is alive, and collections are few.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from sqlalchemy import event

from perfkata.bench.probes import Probe, ProbeContext

# Garbage counted at most, per collection: small against a 10,000-row table (~1 B per row
# at the two sizes a slope is fitted over), large enough that a solution holding its
# whole table in memory does not collect on every one of its statements.
COLLECT_EVERY = 16 * 1024
LIVE_SHARE = 20  # garbage allowed: up to 1/20 of the run's live memory, when that is more


class AllocationProbe(Probe):
    name = "memory"

    def __init__(self, collect_every: int = COLLECT_EVERY) -> None:
        self.peak_bytes = 0
        self.collections = 0  # how often the probe collected (for perfkata's own tests)
        self.collect_every = collect_every
        self._baseline = 0
        self._after_collection = 0
        self._started_here = False
        self._engine: Any = None

    def before(self, ctx: ProbeContext) -> None:
        gc.collect()
        gc.freeze()  # what exists now is not the run's: never walked by its collections
        if not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_here = True
        tracemalloc.reset_peak()
        self._baseline = self._after_collection = tracemalloc.get_traced_memory()[0]
        self._engine = ctx.engine
        event.listen(ctx.engine, "before_cursor_execute", self._at_statement)

    def _at_statement(self, *args: Any) -> None:
        """Free the cycles earlier statements left, once enough was allocated since the
        last time: the peak then counts what is alive, give or take the allowance."""
        alive = self._after_collection - self._baseline
        allowed = max(self.collect_every, alive // LIVE_SHARE)
        if tracemalloc.get_traced_memory()[0] - self._after_collection < allowed:
            return
        gc.collect()
        self.collections += 1
        self._after_collection = tracemalloc.get_traced_memory()[0]

    def after(self, ctx: ProbeContext) -> None:
        _, peak = tracemalloc.get_traced_memory()
        self.peak_bytes = max(0, peak - self._baseline)
        event.remove(self._engine, "before_cursor_execute", self._at_statement)
        if self._started_here:
            tracemalloc.stop()
        gc.unfreeze()

    def results(self) -> dict[str, Any]:
        return {"peak_bytes": self.peak_bytes}
