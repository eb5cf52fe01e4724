"""Grade one solution of one kata: three worker processes (starter, learner, reference),
deterministic counters first, the oracle as a gate, then interleaved timing."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkata.errors import InternalError, LearnerCodeError
from perfkata.grader.database import (
    check_reachable,
    check_redis_reachable,
    drop_schema,
    new_schema_name,
    safe_redis_url,
    safe_url,
)
from perfkata.grader.diagnostics import Diagnostic
from perfkata.grader.loading import check_syntax
from perfkata.grader.process import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, WorkerProcess
from perfkata.grader.results import GradeResult, Measurement
from perfkata.grader.rubric import evaluate
from perfkata.grader.timing import TimingPlan, TimingResult, measure_speedup
from perfkata.katas.base import Kata
from perfkata.katas.files import solution_dir, starter_dir

Progress = Callable[[str, int, int], None]  # (what, done, total)
VARIANTS = ("starter", "learner", "reference")
WHO = {"starter": "The starter", "learner": "Your code", "reference": "The reference solution"}


@dataclass(frozen=True)
class GradeOptions:
    seed: int | None = None
    db_url: str | None = None
    redis_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    timing: bool = True
    plan: TimingPlan = field(default_factory=TimingPlan)
    progress: Progress = lambda what, done, total: None
    # Called with the deterministic verdict before timing starts (watch shows it at once).
    on_counted: Callable[[GradeResult], None] = lambda result: None


def solution_paths(kata: Kata, learner: Path) -> dict[str, Path]:
    return {
        "starter": starter_dir(kata.slug) / kata.main_file,
        "learner": learner,
        "reference": solution_dir(kata.slug) / kata.main_file,
    }


def grade(kata: Kata, learner: Path, options: GradeOptions) -> GradeResult:
    check_syntax(learner)
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    backend = "sqlite"
    if options.db_url:
        backend = f"postgresql ({safe_url(options.db_url)})"
        check_reachable(options.db_url)
    if options.redis_url:
        backend += f", redis ({safe_redis_url(options.redis_url)})"
        check_redis_reachable(options.redis_url)
    with worker_pool(kata, solution_paths(kata, learner), options) as workers:
        measurements = measure_all(kata, workers, seed, options.progress)
        result = judged(kata, learner, seed, backend, measurements, None, options)
        if options.timing and measurements["learner"].correct:
            options.on_counted(result)
            timing = guarded("learner", lambda: time_solutions(kata, workers, seed, options))
            result = judged(kata, learner, seed, backend, measurements, timing, options)
    return result


def time_solutions(
    kata: Kata, workers: dict[str, WorkerProcess], seed: int, options: GradeOptions
) -> TimingResult:
    speedup_check = next(c for c in kata.rubric if c.metric == "speedup")
    return measure_speedup(
        workers,
        speedup_check.threshold,
        options.plan,
        seed,
        lambda done, cap: options.progress("timing rounds", done, cap),
    )


def judged(
    kata: Kata,
    learner: Path,
    seed: int,
    backend: str,
    measurements: dict[str, Measurement],
    timing: TimingResult | None,
    options: GradeOptions,
) -> GradeResult:
    result = GradeResult(kata, str(learner), seed, backend, [], measurements, timing)
    result.checks = evaluate(kata, measurements["learner"], measurements["reference"], timing)
    result.notes = notes_for(result, options, timing_pending=options.timing and timing is None)
    return result


@contextmanager
def worker_pool(
    kata: Kata, paths: dict[str, Path], options: GradeOptions
) -> Iterator[dict[str, WorkerProcess]]:
    schemas = {v: new_schema_name() for v in VARIANTS} if options.db_url else {}
    with ExitStack() as stack:
        if options.db_url:
            for schema in schemas.values():
                stack.callback(drop_schema, options.db_url, schema)
        workers = {}
        for variant in VARIANTS:
            worker = WorkerProcess(
                variant,
                WHO[variant],
                paths[variant],
                timeout=options.timeout,
                memory_limit=options.memory_limit,
            )
            stack.callback(worker.close)
            workers[variant] = worker
        options.progress("starting", 0, 1)
        broadcast(
            workers,
            lambda v: {
                "op": "load",
                "kata": kata.slug,
                "module": str(paths[v]),
                "db_url": options.db_url,
                "redis_url": options.redis_url,
                "schema": schemas.get(v),
                "guard": v == "learner",
            },
        )
        yield workers


def broadcast(
    workers: dict[str, WorkerProcess], request: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """Send to every worker first, then collect: the three run side by side. The learner's
    reply is awaited first, so its timeout runs from the start and its errors end the
    grade at once instead of after the others finish."""
    for variant, worker in workers.items():
        worker.send(request(variant))
    order = sorted(workers, key=lambda v: v != "learner")
    return {v: guarded(v, workers[v].receive) for v in order}


def guarded(variant: str, action: Callable[[], Any]) -> Any:
    """Errors in the learner's worker are the learner's; elsewhere they are perfkata's."""
    try:
        return action()
    except LearnerCodeError as exc:
        if variant == "learner":
            raise
        raise InternalError(
            f"the {variant} solution failed: {exc.message}",
            hint="This is a perfkata bug; please report it with --debug output.",
            details=exc.details,
        ) from None


def measure_all(
    kata: Kata, workers: dict[str, WorkerProcess], seed: int, progress: Progress
) -> dict[str, Measurement]:
    progress("counting statements", 0, 1)
    # Memory costs a traced run: only at the sizes the rubric judges, never for the starter.
    replies = broadcast(
        workers,
        lambda v: {
            "op": "measure",
            "sizes": list(kata.sizes),
            "seed": seed,
            "memory_sizes": list(kata.memory_sizes) if v != "starter" else [],
        },
    )
    progress("counting statements", 1, 1)
    datasets = {size: kata.generate(size, seed) for size in kata.sizes}
    measurements = {v: to_measurement(kata, v, replies[v], datasets) for v in VARIANTS}
    for variant in ("starter", "reference"):
        if not measurements[variant].correct:
            raise InternalError(
                f"the {variant} of {kata.slug} gave a wrong answer: "
                f"{measurements[variant].mismatch}"
            )
    return measurements


def to_measurement(
    kata: Kata, label: str, reply: dict[str, Any], datasets: dict[int, Any]
) -> Measurement:
    counters, mismatch = {}, None
    for entry in reply["sizes"]:
        counters[entry["size"]] = entry["counters"]
        difference = kata.verify(datasets[entry["size"]], entry["output"])
        if difference and mismatch is None:
            mismatch = f"at size {entry['size']}, {difference}"
    diagnostics = [Diagnostic.from_dict(d) for d in reply["sizes"][-1]["diagnostics"]]
    if mismatch:
        gate = next((c.metric for c in kata.rubric if c.gate), "correct")
        diagnostics.insert(0, Diagnostic(gate, f"wrong output: {mismatch}"))
    return Measurement(label, counters, diagnostics, mismatch)


def notes_for(result: GradeResult, options: GradeOptions, timing_pending: bool) -> list[str]:
    notes = []
    if timing_pending and result.measurements["learner"].correct:
        notes.append("Timing the speed-up…")
    elif not options.timing:
        notes.append("Timing was skipped (--no-timing): the speed-up check was not run.")
    elif result.timing is None:
        notes.append("Timing was skipped because the output is wrong.")
    elif result.timing.noisy:
        level = result.timing.noise_level * 100
        notes.append(
            f"This machine is noisy: two timings of the same reference code differed "
            f"by {level:.0f} % (median); close busy programs for a steadier speed-up."
        )
    return notes
