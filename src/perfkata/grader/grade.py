"""Grade one solution of one kata: three worker processes (starter, learner, reference),
deterministic counters first, the oracle as a gate, then interleaved timing."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from perfkata.bench.thresholds import Outcome
from perfkata.errors import InternalError, LearnerCodeError, ServiceFailed
from perfkata.fences import Fences
from perfkata.grader import leftovers
from perfkata.grader.counter_cache import CounterCache, cache_dir
from perfkata.grader.database import (
    check_reachable,
    check_redis_reachable,
    drop_schema,
    new_schema_name,
    safe_redis_url,
    safe_url,
)
from perfkata.grader.diagnostics import N_PLUS_ONE, Diagnostic
from perfkata.grader.loading import check_syntax
from perfkata.grader.parent_audit import Opener, judge_logged, postgres_opener, sqlite_opener
from perfkata.grader.process import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT,
    WorkerProcess,
    ask_all_to_exit,
)
from perfkata.grader.proxy import WorkerProxies, difference
from perfkata.grader.results import GradeResult, Measurement
from perfkata.grader.rubric import evaluate
from perfkata.grader.spares import SparePool, Spares
from perfkata.grader.tamper import SEAL, evidence_of_tampering
from perfkata.grader.timing import (
    EXTREME_NOISE,
    TimingPlan,
    TimingResult,
    comparisons,
    is_timed,
    measure,
    parent_timed,
    reference_missed,
)
from perfkata.grader.tryfix import tried_diagnostic
from perfkata.katas.base import Kata
from perfkata.katas.effects import TimedEffect, timed_effect
from perfkata.katas.files import kata_files_root, solution_dir, starter_dir
from perfkata.ownership import OWNER_ENV

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
    cache: bool = True  # reuse the starter's and reference's counters of earlier grades
    # The rubric never reads the starter's counters; only `bench` shows them side by side.
    # Skipping them spares a grade the slowest counting run (the starter's N+1 at N=800,
    # its per-row deletes at 10,000 rows) competing with the learner's for the cores.
    count_starter: bool = False
    # http-caching: the learner's app behind a real loopback HTTP server (Werkzeug's) in
    # its worker, instead of called through its WSGI interface in-process
    serve: bool = False
    plan: TimingPlan = field(default_factory=TimingPlan)
    progress: Progress = lambda what, done, total: None
    # Called with the deterministic verdict before timing starts (watch shows it at once).
    on_counted: Callable[[GradeResult], None] = lambda result: None
    # Workers started ahead of a grade (grader/spares.py): watch's next grade's, or grade
    # --all's next kata's, which `started` (called once this grade's workers answered
    # their load) starts beside this grade's counting; they are settled before timing.
    spares: Spares | None = None
    started: Callable[[], None] = lambda: None


def solution_paths(kata: Kata, learner: Path) -> dict[str, Path]:
    return {
        "starter": starter_dir(kata.slug) / kata.main_file,
        "learner": learner,
        "reference": solution_dir(kata.slug) / kata.main_file,
    }


def derived_seed(seed: int, k: int) -> int:
    """Another dataset of the same size: k=1 is the memory pass's (and timing's)."""
    return (seed + k * 1_000_003) % 2**31


def backend_kind(options: GradeOptions) -> str:
    kind = "postgresql" if options.db_url else "sqlite"
    return kind + ("+redis" if options.redis_url else "") + ("+serve" if options.serve else "")


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
    if options.serve:
        backend += ", the app served over loopback HTTP (Werkzeug)"
    paths = solution_paths(kata, learner)
    store = Counted(kata, paths, options, seed)
    if not options.count_starter:
        store.found.setdefault("starter", uncounted_starter(kata))
    with worker_pool(kata, paths, options, needed(options, store)) as workers, as_given(options):
        options.started()
        datasets = Datasets(kata)  # the oracle's, shared by the counting and the timing
        # workers with nothing to count (the starter, a cached reference) warm up for
        # timing meanwhile, beside the learner's counting
        early = warm_early(kata, workers, seed, datasets, store) if options.timing else []
        serve = options.timeout if options.serve else None
        measurements = measure_all(kata, workers, seed, options.progress, store, datasets, serve)
        result = judged(kata, learner, seed, backend, measurements, None, options)
        if proves_itself(result):
            measurements["learner"] = with_tried_fix(workers["learner"], measurements["learner"])
            result = judged(kata, learner, seed, backend, measurements, None, options)
        if options.timing and measurements["learner"].correct:
            options.on_counted(result)
            if options.spares is not None:  # no spare may still be starting while timing
                options.spares.settle()
            timing = guarded(
                "learner", lambda: time_solutions(kata, workers, seed, options, datasets, early)
            )
            if isinstance(timing, StaleAnswer):
                measurements["learner"] = memoised(kata, measurements["learner"], timing.reason)
                timing = None
            result = judged(kata, learner, seed, backend, measurements, timing, options)
    return result


def proves_itself(result: GradeResult) -> bool:
    """Whether an N+1 finding's fix is worth one more run of the learner's code: only on
    a failing grade whose output is right, untampered, with an N+1 found."""
    learner = result.measurements["learner"]
    if not learner.correct or learner.tampering is not None:
        return False
    if all(check.outcome is not Outcome.FAIL for check in result.checks):
        return False
    return any(d.kind == N_PLUS_ONE for d in learner.diagnostics)


def with_tried_fix(worker: WorkerProcess, measured: Measurement) -> Measurement:
    """The learner's worker runs its last counted run again with the N+1 fixes applied
    (grader.tryfix); the measured result is put right after the N+1 findings."""
    reply = guarded("learner", lambda: worker.call({"op": "try_fix"}))
    if not isinstance(reply, dict) or "message" not in reply:
        return measured
    diagnostics = list(measured.diagnostics)
    last = max(i for i, d in enumerate(diagnostics) if d.kind == N_PLUS_ONE)
    diagnostics.insert(last + 1, tried_diagnostic(reply))
    return replace(measured, diagnostics=diagnostics)


@contextmanager
def as_given(options: GradeOptions) -> Iterator[None]:
    """A server that failed is named by the URL the user gave, not the proxy's socket."""
    try:
        yield
    except ServiceFailed as failed:
        given = options.redis_url if failed.service == "Redis" else options.db_url
        if given is None or failed.url is None:
            raise
        shown = safe_redis_url(given) if failed.service == "Redis" else safe_url(given)
        raise ServiceFailed(failed.service, failed.reason, shown) from None


def uncounted_starter(kata: Kata) -> Measurement:
    """A placeholder for the starter's counters where nothing reads them."""
    return Measurement("starter", {size: {} for size in kata.sizes}, [])


def needed(options: GradeOptions, store: Counted) -> list[str]:
    """All three are timed; without timing, the learner and — unless its counters are
    cached — the reference: the rubric never reads the starter's counters (bench's
    side by side does, and bench always times)."""
    if options.timing:
        return list(VARIANTS)
    return ["learner"] + ([] if "reference" in store.found else ["reference"])


class StaleAnswer(Exception):
    """A timed sample's output was wrong for the data it ran on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def memoised(kata: Kata, measured: Measurement, reason: str) -> Measurement:
    gate = next((c.metric for c in kata.rubric if c.gate), "correct")
    diagnostics = [Diagnostic(gate, f"wrong output: {reason}"), *measured.diagnostics]
    return Measurement(measured.label, measured.counters, diagnostics, reason)


def time_solutions(
    kata: Kata,
    workers: dict[str, WorkerProcess],
    seed: int,
    options: GradeOptions,
    datasets: Datasets,
    early: Sequence[str] = (),
) -> TimingResult | StaleAnswer:
    sampler = Sampler(kata, workers, seed, datasets)
    options.progress("timing rounds", 0, options.plan.max_rounds)
    broadcast({v: w for v, w in workers.items() if v not in early}, sampler.warm_request)
    for variant in early:  # sent before the counting began
        guarded(variant, workers[variant].receive)
    try:
        return measure(
            kata,
            sampler,
            options.plan,
            seed,
            lambda done, cap: options.progress("timing rounds", done, cap),
        )
    except StaleAnswer as stale:
        return stale


def warm_early(
    kata: Kata,
    workers: dict[str, WorkerProcess],
    seed: int,
    datasets: Datasets,
    store: Counted,
) -> list[str]:
    """Send the warm-up to the workers the counting leaves idle; time_solutions reads
    their replies. Returns who was sent it."""
    idle = [v for v in workers if v in store.found]
    sampler = Sampler(kata, workers, seed, datasets)
    for variant in idle:
        workers[variant].send(sampler.warm_request(variant))
    return idle


class Sampler:
    """One timed sample of (variant, kind). Where the timed run is the graded workload
    (its output can be checked), the n-th sample of every slot runs on the n-th of two
    datasets that alternate — data that changed since the last request, as a server
    sees — and each of the learner's outputs is checked against the oracle. Where the
    kata names a timed kind's effect instead (katas/effects.py: the rows a job left, the
    jobs a request enqueued), every timed call of the learner's is checked for it."""

    def __init__(
        self, kata: Kata, workers: dict[str, WorkerProcess], seed: int, datasets: Datasets
    ) -> None:
        self.kata, self.workers, self.seed, self.datasets = kata, workers, seed, datasets
        self.verify = kata.timed is None
        # the counted rows and the memory pass's: built already, and each differs from
        # the rows the run before it saw
        self.seeds = [seed, derived_seed(seed, 1)] if self.verify else [seed]
        self.calls: Counter[tuple[str, str]] = Counter()

    def warm_request(self, variant: str) -> dict[str, Any]:
        """Each worker's timed workloads warmed before the first round, all at once."""
        kinds = sorted({k for c in comparisons(self.kata) for v, k in c.slots() if v == variant})
        return {"op": "warm", "kinds": kinds, "seed": self.seeds[0], "rotated": self.verify}

    def __call__(self, variant: str, kind: str) -> float:
        n = self.calls[variant, kind]
        self.calls[variant, kind] += 1
        seed = self.seeds[n % len(self.seeds)]
        worker = self.workers[variant]
        setup = {"kind": kind, "seed": seed, "rotated": self.verify}
        # a sample whose output is checked on changed data runs once: a repeat could be
        # served from a cache of the first
        least = 1 if self.verify else self.kata.timing_repeats
        effect = timed_effect(self.kata, kind) if variant == "learner" else None
        # every call of the learner's is checked, after the parent's clock stopped
        check = partial(self.check_effect, effect, seed) if effect else None
        seconds = parent_timed(worker.call, setup, least, fill=not self.verify, check=check)
        if self.verify and variant == "learner":
            self.check(seed, worker.call({"op": "timed_output"}))
        return seconds

    def check(self, seed: int, output: Any) -> None:
        difference = self.kata.verify(self.datasets(self.kata.timed_size, seed), output)
        if difference:
            raise StaleAnswer(stale_reason(self.kata, self.kata.timed_size, difference))

    def check_effect(self, effect: TimedEffect, seed: int, observed: Any) -> None:
        size = self.kata.timed_size
        difference = effect.verify(self.datasets(size, seed), observed)
        if difference:
            raise StaleAnswer(skipped_work(size, difference))


def stale_reason(kata: Kata, size: int, difference: str) -> str:
    return (
        f"returned a result memoised from an earlier request: at size {size}, on data that "
        f"changed since (same size, other rows), {difference}. Keeping answers across "
        "requests is caching, and a cache must not serve stale data: build the result from "
        "the database on every call"
    )


def skipped_work(size: int, difference: str) -> str:
    return (
        f"a timed run at N={size:,} did not do its work ({difference}), though the counted "
        "runs of the same code were right: it behaves differently when timed. Do the same "
        "work whether or not anything watches (every timed call's effect is checked)"
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


class Workers(dict[str, WorkerProcess]):
    """A pool's workers by variant, each one's counting proxies (PostgreSQL/Redis), and
    how the parent opens each one's database to judge logged statements (parent_audit)."""

    proxies: dict[str, WorkerProxies]
    databases: dict[str, Opener | None]


def start_proxies(
    stack: ExitStack, owner: str, variants: Sequence[str], options: GradeOptions
) -> dict[str, WorkerProxies]:
    """Each worker's PostgreSQL and Redis reached through proxies of this process, which
    count what it sends (grader/proxy.py). Their sockets live in a folder of their own,
    `<folder>/<variant>`, outside the workers' TMPDIR, so a worker cannot replace them."""
    if not (options.db_url or options.redis_url):
        return {}
    folder = socket_folder(owner)
    stack.callback(shutil.rmtree, folder, True)
    folder.chmod(0o711)  # a worker of another uid may connect, never list or write
    proxies = {}
    for variant in variants:
        proxies[variant] = WorkerProxies(folder / variant, options.db_url, options.redis_url)
        stack.callback(proxies[variant].close)
    return proxies


def off_the_network(proxies: WorkerProxies | None) -> Fences | None:
    """A worker whose servers are reached through the proxies needs no network: without
    one it cannot reach PostgreSQL or Redis around them (a strict fence; basic has none)."""
    if proxies is None:
        return None
    return Fences(network=False, sockets=proxies.folder)


# A Unix socket's path has 107 bytes at most: the folder, "/reference/.s.PGSQL.65535".
SOCKET_ROOM = 107 - len("/reference/.s.PGSQL.65535")


def socket_folder(owner: str) -> Path:
    """The proxies' folder: beside the grade's other temp folders, or in /tmp when that
    path is too long for a socket's (a deep $TMPDIR); named for its owner either way."""
    folder = leftovers.temp_folder(owner)
    if len(str(folder)) <= SOCKET_ROOM:
        return folder
    folder.rmdir()
    return Path(tempfile.mkdtemp(prefix=folder.name.rsplit("-", 1)[0] + "-", dir="/tmp"))


@contextmanager
def worker_pool(
    kata: Kata,
    paths: dict[str, Path],
    options: GradeOptions,
    variants: Sequence[str] = VARIANTS,
) -> Iterator[dict[str, WorkerProcess]]:
    schemas = {v: new_schema_name() for v in variants} if options.db_url else {}
    spare = taken_spares(kata, paths, options)
    with ExitStack() as stack:
        if spare is not None:  # its owner tag and folder, ended with this grade
            stack.enter_context(spare.stack)
            owned = spare.owned
        else:
            owned = stack.enter_context(
                leftovers.owned_by_this_grade(options.db_url, options.redis_url)
            )
        if options.db_url:
            for schema in schemas.values():
                stack.callback(drop_schema, options.db_url, schema)
        # closed after the workers (an ExitStack unwinds in reverse): nothing they send is lost
        proxies = start_proxies(stack, owned[OWNER_ENV], variants, options)
        workers = Workers()
        workers.proxies = proxies
        for variant in variants:
            worker = spare.workers.pop(variant, None) if spare else None
            if worker is not None:  # started ahead, never loaded: as if started now
                worker.timeout = options.timeout
            else:
                worker = WorkerProcess(
                    variant,
                    WHO[variant],
                    paths[variant],
                    timeout=options.timeout,
                    memory_limit=options.memory_limit,
                    extra_env=owned,
                    fenced=off_the_network(proxies.get(variant)),
                )
                stack.callback(worker.close)
            workers[variant] = worker
        for unneeded in spare.workers.values() if spare else ():
            unneeded.close()
        # unwound first: every worker is asked to exit before the first close() waits
        stack.callback(ask_all_to_exit, list(workers.values()))
        options.progress("starting", 0, 1)
        loaded = broadcast(
            workers,
            lambda v: {
                "op": "load",
                "kata": kata.slug,
                "module": str(paths[v]),
                "db_url": proxies[v].db_url if proxies else options.db_url,
                "redis_url": proxies[v].redis_url if proxies else options.redis_url,
                "schema": schemas.get(v),
                "forbidden": forbidden_to(v, paths[v]),
                "seal": SEAL,  # every reply of the worker's own carries it back
            },
        )
        workers.databases = {}
        if kata.extras.get("statement_log"):  # its statements are judged in this process
            workers.databases = {
                v: postgres_opener(options.db_url, schemas[v])
                if options.db_url
                else sqlite_opener(loaded[v].get("database"), workers[v].scratch)
                for v in variants
            }
        yield workers


def taken_spares(kata: Kata, paths: dict[str, Path], options: GradeOptions) -> SparePool | None:
    """The workers started ahead for this grade, if any (embedded backends only)."""
    if options.spares is None or options.db_url or options.redis_url:
        return None
    return options.spares.take(kata.slug, paths, options.memory_limit)


def start_spares(spares: Spares, kata: Kata, learner: Path, options: GradeOptions) -> None:
    """Start the workers a coming grade of `learner` will take: all three when it times,
    else the learner's (the reference's counters are usually cached; if not, that grade
    starts its reference itself). Never with PostgreSQL or Redis (per-grade proxies)."""
    if options.db_url or options.redis_url:
        return
    variants = list(VARIANTS) if options.timing else ["learner"]
    paths = solution_paths(kata, learner)
    spares.start(kata.slug, paths, variants, WHO, options.timeout, options.memory_limit)


def forbidden_to(variant: str, solution: Path) -> list[str]:
    """What the learner's worker may not open: the reference solutions (unless a reference
    is what is graded, `--solution reference`) and the cached counters of earlier grades."""
    if variant != "learner":
        return []
    solutions = kata_files_root() / "solutions"
    hidden = [] if solution.resolve().is_relative_to(solutions.resolve()) else [solutions]
    return [str(folder) for folder in [*hidden, cache_dir()]]


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


class Counted:
    """The starter's and reference's counters from the cache, and storing new ones."""

    def __init__(self, kata: Kata, paths: dict[str, Path], options: GradeOptions, seed: int):
        self.kata, self.paths, self.seed = kata, paths, seed
        self.cache = CounterCache() if options.cache else None
        self.parts = {
            "kata": kata.slug,
            "sizes": list(kata.sizes),
            "memory_sizes": list(kata.memory_sizes),
            "backend": backend_kind(options),
        }
        self.found: dict[str, Measurement] = {}
        for variant in ("starter", "reference"):
            entry = self.cache.get(self.parts, paths[variant], seed) if self.cache else None
            if entry is not None:
                counters = {int(size): c for size, c in entry["counters"].items()}
                self.found[variant] = Measurement(variant, counters, [], None)

    def keep(self, variant: str, measured: Measurement) -> None:
        if self.cache is not None and measured.correct:
            entry = {"counters": {str(size): c for size, c in measured.counters.items()}}
            self.cache.put(self.parts, self.paths[variant], self.seed, entry)


def measure_all(
    kata: Kata,
    workers: dict[str, WorkerProcess],
    seed: int,
    progress: Progress,
    store: Counted | None = None,
    datasets: Datasets | None = None,
    serve: float | None = None,  # --serve: a driven kata's app over HTTP, this timeout
) -> dict[str, Measurement]:
    progress("counting statements", 0, 1)
    found = store.found if store is not None else {}
    counting = {v: w for v, w in workers.items() if v not in found}
    # Memory is traced on other rows of the same size, so a memo of the counted run shows
    # as a wrong answer; a kata whose job changes the data restores the counted rows
    # instead (a second build of 10,000 rows costs seconds, and a job that skips its
    # work leaves the wrong rows behind all the same).
    memory_seed = seed if kata.mutates_data else derived_seed(seed, 1)
    replies = counted_in_steps(
        kata,
        counting,
        getattr(workers, "proxies", {}),
        seed,
        memory_seed,
        getattr(workers, "databases", {}),
        serve,
    )
    progress("counting statements", 1, 1)
    datasets = datasets or Datasets(kata)
    measurements = dict(found)
    for variant in counting:
        measurements[variant] = to_measurement(kata, variant, replies[variant], seed, datasets)
    if "starter" not in measurements:  # not needed by the rubric: an empty placeholder
        measurements["starter"] = uncounted_starter(kata)
    for variant in ("starter", "reference"):
        if not measurements[variant].correct:
            raise InternalError(
                f"the {variant} of {kata.slug} gave a wrong answer: "
                f"{measurements[variant].mismatch}"
            )
        if store is not None and variant in counting:
            store.keep(variant, measurements[variant])
    return measurements


def counted_in_steps(
    kata: Kata,
    workers: dict[str, WorkerProcess],
    proxies: dict[str, WorkerProxies],
    seed: int,
    memory_seed: int,
    databases: dict[str, Opener | None] | None = None,
    serve: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Every size in steps — the data built, the counted run, the memory pass — so what
    the proxies count between the build's reply and the run's is the counted run's alone
    (entry["server"]). The windows are the parent's: nothing the worker sends moves them.
    A run's logged statements are judged on its database before the memory pass
    rebuilds it (grader/parent_audit.py)."""
    replies: dict[str, dict[str, Any]] = {v: {"sizes": []} for v in workers}
    for size in kata.sizes:
        prepare = {"op": "prepare", "size": size, "seed": seed}
        broadcast(workers, lambda v: prepare)  # noqa: B023 — called before the loop moves on
        before = {v: proxies[v].counts() for v in workers if v in proxies}
        for v, entry in counted_run(kata, workers, size, seed, serve).items():
            if v in proxies:
                entry["server"] = difference(proxies[v].counts(), before[v])
            judge_logged(kata, entry, (databases or {}).get(v))
            replies[v]["sizes"].append(entry)
        # Memory costs a traced run: only at the sizes the rubric judges, never for the starter.
        traced = {v: w for v, w in workers.items() if v != "starter" and size in kata.memory_sizes}
        for v, pass_ in broadcast(traced, lambda v: {"op": "memory", "seed": memory_seed}).items():
            replies[v]["sizes"][-1]["counters"]["peak_bytes"] = pass_["peak_bytes"]
            replies[v]["sizes"][-1]["memory"] = pass_["memory"]
    for v, extra in broadcast(workers, lambda v: {"op": "scenarios"}).items():
        replies[v]["sizes"][-1]["counters"].update(extra["counters"])  # on the largest dataset
        replies[v]["sizes"][-1]["diagnostics"] += extra["diagnostics"]
        replies[v]["tampering"] = extra.get("tampering")  # every event the hook recorded
    return replies


def counted_run(
    kata: Kata,
    workers: dict[str, WorkerProcess],
    size: int,
    seed: int,
    serve: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Each worker's counted run on the data in place. A kata that drives its run from this
    process (extras["driven"]: http-caching's clients, caches and oracle) sends the worker
    one step at a time and builds the same reply itself, a thread per worker so they run
    side by side (most of a driven run is waiting for the worker's answer)."""
    driven = kata.extras.get("driven")
    if driven is None:
        return broadcast(workers, lambda v: {"op": "count"})
    order = sorted(workers, key=lambda v: v != "learner")
    with ThreadPoolExecutor(max_workers=len(order)) as pool:
        runs = {v: pool.submit(driven, workers[v].call, size, seed, serve) for v in order}
        return {v: guarded(v, runs[v].result) for v in order}


def server_count(kata: Kata, entry: dict[str, Any]) -> str | None:
    """On PostgreSQL the statements graded are those the parent's proxy saw the server
    receive in the run's window (transaction control and connection set-up aside). A
    worker that reported fewer had its in-process count altered: tampering. (Only where
    the rubric grades the run's statements: report-worker's run also holds its job
    processes' statements, which the worker's count is not meant to include.)"""
    seen = entry.get("server", {}).get("postgresql")
    counters = entry["counters"]
    if seen is None or "statements" not in counters:
        return None
    counters["server_statements"] = seen["statements"]
    if not any(check.metric.split(":")[0] == "statements" for check in kata.rubric):
        return None
    reported = counters["statements"]
    counters["statements"] = seen["statements"]
    counters["worker_statements"] = reported
    if seen["statements"] > reported:
        return (
            f"tampering detected: PostgreSQL received {seen['statements']} statements during "
            f"the run at N={entry['size']}, the worker reported {reported}"
        )
    return None


class Datasets:
    """The oracle's datasets, each generated once per grade."""

    def __init__(self, kata: Kata) -> None:
        self.kata = kata
        self.made: dict[tuple[int, int], Any] = {}

    def __call__(self, size: int, seed: int) -> Any:
        if (size, seed) not in self.made:
            self.made[size, seed] = self.kata.generate(size, seed)
        return self.made[size, seed]


def to_measurement(
    kata: Kata, label: str, reply: dict[str, Any], seed: int, datasets: Datasets
) -> Measurement:
    counters, mismatch = {}, None
    worded = kata.extras.get("verify_words_itself", False)  # a whole sentence, said as is
    tampering = None
    for entry in reply["sizes"]:
        size = entry["size"]
        seen = server_count(kata, entry)  # at every size: the proxy's figure is the graded one
        tampering = tampering or seen
        counters[size] = entry["counters"]
        difference = kata.verify(datasets(size, seed), entry["output"])
        events = reply.get("tampering")  # the audit hook's, to the worker's last reply
        tampering = tampering or evidence_of_tampering(kata, entry, not difference, events)
        if difference and mismatch is None:
            mismatch = difference if worded else f"at size {size}, {difference}"
        if "memory" in entry and mismatch is None:
            mismatch = memory_mismatch(kata, size, seed, entry["memory"], datasets)
    diagnostics = [Diagnostic.from_dict(d) for d in reply["sizes"][-1]["diagnostics"]]
    if tampering:  # the gate fails: the kata scores 0, whatever else was measured
        gate = next((c.metric for c in kata.rubric if c.gate), "correct")
        diagnostics.insert(0, Diagnostic(gate, tampering))
        return Measurement(label, counters, diagnostics, tampering, tampering=tampering)
    if mismatch:
        gate = next((c.metric for c in kata.rubric if c.gate), "correct")
        diagnostics.insert(0, Diagnostic(gate, mismatch if worded else f"wrong output: {mismatch}"))
    return Measurement(label, counters, diagnostics, mismatch)


def memory_mismatch(
    kata: Kata, size: int, seed: int, memory: dict[str, Any], datasets: Datasets
) -> str | None:
    """The memory pass ran on other rows of the same size: its answer must be theirs.
    When it is instead the right answer for the rows counted before, it was memoised."""
    difference = kata.verify(datasets(size, memory["seed"]), memory["output"])
    if not difference:
        return None
    if kata.verify(datasets(size, seed), memory["output"]) is None:
        return stale_reason(kata, size, difference)
    return f"at size {size}, on a second dataset of that size, {difference}"


def notes_for(result: GradeResult, options: GradeOptions, timing_pending: bool) -> list[str]:
    notes = []
    if timing_pending and result.measurements["learner"].correct:
        notes.append("Timing the speed-up…")
    elif not options.timing:
        notes.append("Timing was skipped (--no-timing): the speed-up check was not run.")
    elif result.timing is None:
        notes.append("Timing was skipped, or stopped, because an output was wrong (see above).")
    else:
        notes += timing_notes(result, result.timing)
    return notes


def timing_notes(result: GradeResult, timing: TimingResult) -> list[str]:
    """The machine is named only where it mattered: a timed check it left undecided
    (the reference missing its own floor, or intervals too wide), or extreme noise."""
    undecided = [
        c for c in result.checks if is_timed(c.check.metric) and c.outcome is Outcome.INCONCLUSIVE
    ]
    notes = []
    busy = [c for c in undecided if reference_missed(c.check, timing.ratios.get(c.check.id))]
    if busy:
        notes.append(
            "The machine was too busy to judge the speed-up: the reference solution itself "
            f"missed the floor of {', '.join(repr(c.check.title) for c in busy)} in this grade "
            "(see below); grade again when it is quieter."
        )
    elif timing.noisy and (undecided or timing.noise_level > EXTREME_NOISE):
        level = timing.noise_level * 100
        notes.append(
            f"This machine is noisy: the reference's own timings moved by {level:.0f} % "
            f"(median) round to round over {timing.rounds} rounds"
            + ("; the speed-up stayed undecided, grade again." if undecided else ".")
        )
    elif undecided:
        stopped = " (no round left before the cap could decide it)" if timing.curtailed else ""
        notes.append(
            f"The speed-up stayed undecided after {timing.rounds} timing rounds{stopped}; "
            "grade again."
        )
    return notes
