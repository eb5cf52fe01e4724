"""The worker process: holds one solution (starter, learner or reference), builds its
datasets, and answers the parent's requests one JSON line at a time.

Run as `python -m perfkata.grader.worker`. Requests arrive on stdin, replies leave on a
private copy of stdout; the learner's own prints are sent to stderr so they cannot
corrupt the protocol, and stdin is closed to them so `input()` cannot eat a request.
"""

from __future__ import annotations

import faulthandler
import gc
import inspect
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfkata.audit import Evidence, install
from perfkata.bench.probes import ProbeContext, probe_run
from perfkata.bench.probes.eager import UnusedEagerProbe
from perfkata.bench.probes.joinedrows import JoinedRowsProbe
from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.memory import AllocationProbe
from perfkata.bench.probes.queries import DRIVER_FEED, QueryProbe
from perfkata.bench.probes.reloads import ColumnReloadProbe
from perfkata.bench.probes.statement_log import StatementLog
from perfkata.bench.sourceline import LearnerFiles
from perfkata.errors import LearnerCodeError
from perfkata.grader.database import Snapshots, service_error_reply, worker_engine
from perfkata.grader.diagnostics import Diagnostic, collect_diagnostics
from perfkata.grader.loading import learner_errors, load_module, to_plain_data
from perfkata.grader.tryfix import FixPlan, options_added, tried_message
from perfkata.isolation import forbid_reading
from perfkata.katas.base import Backends, Kata, RunEnv, Workload
from perfkata.katas.effects import timed_effect
from perfkata.katas.registry import get_kata


@dataclass
class WorkerState:
    kata: Kata | None = None
    module: ModuleType | None = None
    path: Path | None = None
    files: LearnerFiles = field(default_factory=lambda: LearnerFiles([]))
    engine: Engine | None = None
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="perfkata-")))
    backends: Backends | None = None
    timing_services: ExitStack = field(default_factory=ExitStack)
    timing_env: Mapping[str, Any] | None = None  # services kept warm across timing samples
    warm: set[str] = field(default_factory=set)  # timed workloads already run once, untimed
    dataset: tuple[int, int] = (0, 0)  # (size, seed) of the database as built
    snapshots: Snapshots | None = None
    evidence: Evidence | None = None  # the audit hook's read side (main() installs it)
    timed: TimedCall = field(default_factory=lambda: TimedCall())  # what the parent times
    fix_plan: FixPlan | None = None  # the last counted run's N+1 fixes, for op_try_fix
    kata_store: dict[str, Any] = field(default_factory=dict)  # what a kata's own ops keep

    def ready(self) -> tuple[Kata, ModuleType, Engine]:
        assert self.kata and self.module and self.engine, "load must come first"
        return self.kata, self.module, self.engine

    def services(self) -> AbstractContextManager[Mapping[str, Any]]:
        """A fresh set of the kata's services (cache, clock …) for one run."""
        kata, _, engine = self.ready()
        assert self.backends is not None
        return kata.environment(engine, self.backends)


def op_load(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    state.kata = get_kata(req["kata"])
    state.path = Path(req["module"])
    state.files = LearnerFiles([str(state.path)])
    # The learner's worker: the reference solutions and the cached counters are off limits.
    forbid_reading([Path(folder) for folder in req.get("forbidden", ())])
    if state.kata.prepare is not None:
        state.kata.prepare()
    # The engine first: its dialect's modules are then among those frozen below.
    state.engine = worker_engine(req.get("db_url"), req.get("schema"), state.scratch)
    if state.evidence is not None:  # the learner's frames, and perfkata as it is before them
        state.evidence.learner(str(state.path))
        state.evidence.freeze({"worker OPS": OPS})
    state.module = load_module(state.path, state.kata.entry_points)
    state.backends = Backends(req.get("db_url"), req.get("redis_url"), state.scratch)
    # where the parent finds the SQLite file to judge logged statements on (parent_audit)
    database = state.engine.url.database if state.engine.dialect.name == "sqlite" else None
    return {"pid": os.getpid(), "database": database}


def rebuild(state: WorkerState, size: int, seed: int, keep: bool = False) -> None:
    """A fresh database holding the dataset (size, seed): restored from its snapshot when
    there is one, otherwise built and, for katas that change data (or when `keep` says
    it will be wanted again), snapshotted."""
    kata, _, engine = state.ready()
    tables, name = kata.models.metadata.sorted_tables, f"{size}_{seed}"
    state.dataset = (size, seed)
    if state.snapshots is None:
        state.snapshots = Snapshots(engine, state.scratch)
    if state.snapshots.restore(name, tables):
        return
    kata.models.metadata.drop_all(engine)
    kata.models.metadata.create_all(engine)
    with Session(engine) as session:
        kata.load(session, kata.generate(size, seed))
    if kata.mutates_data or keep:
        state.snapshots.take(name, tables)


def run_once(
    state: WorkerState,
    services: Mapping[str, Any],
    workload: Workload | None = None,
    statement_log: StatementLog | None = None,
) -> tuple[Any, RunEnv]:
    """One call of a workload with a fresh session; returns its output and its RunEnv
    (the counters and notes it recorded)."""
    kata, module, engine = state.ready()
    doing = f"running {', '.join(kata.entry_points)}"
    with Session(engine) as session, learner_errors(state.files, doing):
        env = RunEnv(engine, session, services, *state.dataset, statement_log=statement_log)
        output = (workload or kata.workload)(module, env)
    return output, env


def noted(env: RunEnv) -> list[dict[str, Any]]:
    """The diagnostics a kata's workload or scenario noted, in the report's shape."""
    return [Diagnostic(metric, message).as_dict() for metric, message in env.notes]


def fresh_data(state: WorkerState) -> None:
    """Katas whose workload changes the data (a cleanup job) start every run afresh."""
    kata, _, _ = state.ready()
    if kata.mutates_data:
        rebuild(state, *state.dataset)


def run_scenarios(state: WorkerState) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The kata's extra situations (stampede, expiry …), each with fresh services."""
    kata, _, _ = state.ready()
    counters: dict[str, float] = {}
    notes: list[dict[str, Any]] = []
    for scenario in kata.scenarios.values():
        fresh_data(state)
        with state.services() as services:
            env = run_once(state, services, scenario)[1]
        counters.update(env.counters)
        notes += noted(env)
    return counters, notes


def measure_size(
    state: WorkerState, size: int, seed: int, memory_seed: int | None
) -> dict[str, Any]:
    op_prepare(state, {"size": size, "seed": seed})
    reply = op_count(state, {})
    if memory_seed is not None:
        reply["counters"]["peak_bytes"], reply["memory"] = measure_memory(state, memory_seed)
    return reply


def op_prepare(state: WorkerState, req: dict[str, Any]) -> None:
    """The dataset in place for a counted run. A request of its own: the parent reads
    its proxies' counters between this reply and the next request, so the statements
    of perfkata's own rebuild never fall in the window counted as the learner's."""
    kata, _, _ = state.ready()
    size = int(req["size"])
    say_size(size)
    rebuild(state, size, int(req["seed"]), keep=size == kata.timed_size)  # timing comes back


def op_count(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    """The counted run on the dataset in place: nothing else happens in this request."""
    kata, _, _ = state.ready()
    size = state.dataset[0]
    queries, lazy, eager = QueryProbe(), LazyLoadProbe(), UnusedEagerProbe()
    reloads, joined = ColumnReloadProbe(), JoinedRowsProbe()
    # the statements themselves, for a kata the parent judges them for (their plans, rows)
    log = StatementLog() if kata.extras.get("statement_log") else None
    ctx = probe_context(state)
    evidence = state.evidence
    probes = [queries, lazy, eager, reloads, joined, *([log] if log else [])]
    with state.services() as services, probe_run(probes, ctx) as counters:
        before = evidence.driver() if evidence else 0
        output, env = run_once(state, services, statement_log=log)
        driven = evidence.driver() - before if evidence else None
    counters.update(env.counters)
    fixes = lazy.fixes() if counters.get("lazy_loads") else []
    state.fix_plan = FixPlan(size, state.dataset[1], queries.results()["statements"], fixes)
    advice = {"models": kata.models, "batches": kata.extras.get("batched_writes", "")}
    reply = {
        "size": size,
        "counters": counters,
        "output": plain(state, output),
        "diagnostics": collect_diagnostics(queries, lazy, eager, size, reloads, advice, joined)
        + noted(env),
    }
    if log is not None:
        reply["statement_log"] = log.entries
    if evidence is not None:  # the hook's own count, for the parent to compare
        evidence.verify()
        reply["integrity"] = {"driver_statements": driven}
    return reply


def probe_context(state: WorkerState) -> ProbeContext:
    """The probes' view of a run: the engine, the models, the learner's files, and the
    audit hook's feed of every sqlite3 statement (counted around SQLAlchemy too)."""
    kata, _, engine = state.ready()
    ctx = ProbeContext(engine, kata.models, state.files)
    if state.evidence is not None:
        ctx.extras[DRIVER_FEED] = state.evidence.feed
    return ctx


def op_try_fix(state: WorkerState, req: dict[str, Any]) -> dict[str, Any] | None:
    """The last counted run once more, on its dataset, with the N+1 findings' loader
    options added to the queries that loaded the parents (grader.tryfix); its statements
    counted as the counted run's were. Teaching text only: nothing in it is graded."""
    plan = state.fix_plan
    if plan is None or not plan.fixes:
        return None
    rebuild(state, plan.size, plan.seed)
    queries, lazy = QueryProbe(), LazyLoadProbe()
    try:
        with (
            options_added(plan.fixes, state.files) as adder,
            state.services() as services,
            probe_run([queries, lazy], probe_context(state)) as counters,
        ):
            run_once(state, services)
    except LearnerCodeError as failed:
        return {"message": f"with the suggested loader options your code failed: {failed.message}"}
    applied = [plan.fixes[i] for i in sorted(adder.applied)]
    statements = int(counters["statements"])
    message = tried_message(plan, applied, statements, int(counters["lazy_loads"]))
    where = applied[0].where if applied else plan.fixes[0].where
    return {
        "message": message,
        "statements": statements,
        "where": {"file": where.file, "line": where.line},
    }


def op_memory(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    peak, checked = measure_memory(state, int(req["seed"]))
    return {"peak_bytes": peak, "memory": checked}


def op_scenarios(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    counters, notes = run_scenarios(state)  # on the largest dataset
    return {"counters": counters, "diagnostics": notes}


def say_size(size: int) -> None:
    """Told on stderr, so a timeout can say at which size the code was too slow."""
    print(f"perfkata: working at N={size}", file=sys.stderr, flush=True)


def plain(state: WorkerState, output: Any) -> Any:
    kata, _, _ = state.ready()
    assert state.path is not None
    return to_plain_data(output, kata.entry_points[0], str(state.path))


def measure_memory(state: WorkerState, seed: int) -> tuple[int, dict[str, Any]]:
    """Peak allocation of one run, in its own pass (the counting run warmed it up), on a
    dataset of the same size built from another seed: a run that returns what an earlier
    request computed (a memo in a module global) shows here as a wrong answer, not as
    0 bytes. Its output goes back to be checked against the oracle."""
    kata, _, engine = state.ready()
    size, counted_seed = state.dataset
    rebuild(state, size, seed, keep=size == kata.timed_size)
    probe = AllocationProbe()
    ctx = ProbeContext(engine, kata.models, state.files)
    with state.services() as services, probe_run([probe], ctx):  # services opened untraced
        output, _ = run_once(state, services)
    checked = {"seed": seed, "output": plain(state, output)}
    if kata.scenarios and seed != counted_seed:  # the scenarios that follow read the counted rows
        rebuild(state, size, counted_seed)
    return probe.peak_bytes, checked


def op_measure(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    traced, seed = set(req.get("memory_sizes", ())), req["seed"]
    memory_seed = req.get("memory_seed", seed)
    per_size = [
        measure_size(state, size, seed, memory_seed if size in traced else None)
        for size in req["sizes"]
    ]
    counters, notes = run_scenarios(state)  # on the largest dataset
    per_size[-1]["counters"].update(counters)
    per_size[-1]["diagnostics"] += notes
    return {"sizes": per_size}


def timed_workload(kata: Kata, kind: str) -> Workload:
    """The kind "timed" is the kata's timed workload (by default the graded one); others are
    named in its extras["timed"] (report-worker's jobs on 1 thread and on 4)."""
    if kind == "timed":
        return kata.timed or kata.workload
    return kata.extras["timed"][kind]  # type: ignore[no-any-return]


class TimedCall:
    """The one timed call. Its set-up runs in an untimed request before it
    ("timing_setup"), its tear-down at the start of the next set-up, and its output is
    sent in a request of its own: the "timed_call" request runs the call and nothing
    else, timed by op_timed_call's own clock and bounded by the parent's around it."""

    def __init__(self) -> None:
        self.action: Callable[[], Any] | None = None
        self.teardown = ExitStack()
        self.output: Any = None
        self.kind = "timed"
        self.env: RunEnv | None = None  # the call's, for observing its effect afterwards


def doing(kata: Kata) -> str:
    return f"running {', '.join(kata.entry_points)}"


def staged(
    state: WorkerState, workload: Workload, teardown: ExitStack
) -> tuple[Callable[[], Any], RunEnv]:
    """The workload's timed part with its set-up done, and the RunEnv it runs in. A
    generator workload sets up, yields the callable that is timed, and tears down when
    resumed (report-worker's broker is built and closed outside the sample); any other
    workload is timed whole."""
    kata, module, engine = state.ready()
    session = teardown.enter_context(Session(engine))
    env = RunEnv(engine, session, state.timing_env, *state.dataset)  # type: ignore[arg-type]
    if not inspect.isgeneratorfunction(workload):
        return (lambda: workload(module, env)), env
    steps = workload(module, env)
    teardown.callback(finish_steps, state, steps)
    with learner_errors(state.files, doing(kata)):
        action: Callable[[], Any] = next(steps)
    return action, env


def finish_steps(state: WorkerState, steps: Any) -> None:
    kata, _, _ = state.ready()
    with learner_errors(state.files, doing(kata)):
        next(steps, None)
    steps.close()


def run_whole(state: WorkerState, workload: Workload) -> Any:
    """One untimed run of a timed workload, set-up to tear-down (the warm-up)."""
    kata, _, _ = state.ready()
    with ExitStack() as teardown:
        action, _ = staged(state, workload, teardown)
        with learner_errors(state.files, doing(kata)):
            return action()


def prepare_timing(state: WorkerState, kind: str, wanted: tuple[int, int], rotated: bool) -> None:
    """Untimed: the services opened once (kept warm), the dataset in place, and the
    workload's first call — its imports and caches — made before any sample. After
    the first warm-up what is alive is frozen (gc.freeze): the collection before each
    sample then walks only what later calls made, not the whole heap (~30 ms a time)."""
    kata, _, _ = state.ready()
    if state.timing_env is None:
        say_size(kata.timed_size)
        state.timing_env = state.timing_services.enter_context(state.services())
        state.timing_services.callback(state.timed.teardown.close)  # before the services
    if state.dataset != wanted or kata.mutates_data:
        rebuild(state, *wanted, keep=rotated)
    if kind not in state.warm:
        run_whole(state, timed_workload(kata, kind))
        state.warm.add(kind)
        fresh_data(state)
        gc.collect()
        gc.freeze()


def op_warm(state: WorkerState, req: dict[str, Any]) -> None:
    """Every timed workload warmed at once, in all workers side by side."""
    kata, _, _ = state.ready()
    for kind in req["kinds"]:
        prepare_timing(state, kind, (kata.timed_size, int(req["seed"])), bool(req["rotated"]))


def op_timing_setup(state: WorkerState, req: dict[str, Any]) -> dict[str, Any] | None:
    """Untimed, before each timed call: the last call torn down, the data in place (on the
    dataset `seed` names — the parent changes it between samples whose output it checks,
    so a memo of an earlier answer is caught — and fresh again for a repeat where the
    workload changes it), the call's set-up done, the garbage collected. The kata's
    services (a warm cache, say) live across samples, as they would in a server. Asked
    to `observe`, a repeat's set-up first replies with what the call before it left
    behind (op_timed_output), before that is torn down."""
    kata, _, _ = state.ready()
    repeat = int(req.get("repeat", 0))
    observed = op_timed_output(state, req) if req.get("observe") and repeat else None
    state.timed.teardown.close()
    state.timed.action = state.timed.output = None
    kind = req.get("kind", "timed")
    if repeat == 0:
        wanted = (kata.timed_size, int(req["seed"]))
        prepare_timing(state, kind, wanted, bool(req.get("rotated")))
    else:
        fresh_data(state)
    state.timed.kind = kind
    workload = timed_workload(kata, kind)
    state.timed.action, state.timed.env = staged(state, workload, state.timed.teardown)
    gc.collect()
    return {"observed": observed} if req.get("observe") else None


def op_timed_call(
    state: WorkerState, req: dict[str, Any], clock: Callable[[], float] = time.perf_counter
) -> float:
    """The timed call and nothing else (no output encoded), timed with a clock bound when
    this module was imported, before any learner code: patching time.perf_counter later
    changes nothing, and changing this default is tampering the audit hook records. The
    parent bounds it with its own clock around the request (grader.timing.parent_timed):
    the round trip alone would add the machine's scheduling delays to every call, which
    on a busy machine shrinks a 3x-slower solution's gap to the reference."""
    kata, _, _ = state.ready()
    action, state.timed.action = state.timed.action, None
    assert action is not None, "timing_setup must come first"
    with learner_errors(state.files, doing(kata)):
        start = clock()
        state.timed.output = action()
        return clock() - start


def op_timed_output(state: WorkerState, req: dict[str, Any]) -> Any:
    """The last timed call's output, for the parent to check against the oracle — or,
    where the kata names one for this kind, the effect it left (katas/effects.py: the
    rows a job left, what a request enqueued), observed now, before its tear-down."""
    kata, _, _ = state.ready()
    effect = timed_effect(kata, state.timed.kind)
    if effect is None:
        return plain(state, state.timed.output)
    assert state.timed.env is not None, "timing_setup must come first"
    with learner_errors(state.files, doing(kata)):  # it may read what the learner returned
        return plain(state, effect.observe(state.timed.env, state.timed.output))


def op_sample(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    """In-process callers only (tests, benchmarks): one set-up and its timed call. A
    grade never asks for it — it sends the steps apart (grader.timing.parent_timed)."""
    op_timing_setup(state, req)
    reply: dict[str, Any] = {"seconds": op_timed_call(state, req)}
    if req.get("verify"):
        reply["output"] = op_timed_output(state, req)
    return reply


def op_kata(state: WorkerState, req: dict[str, Any]) -> Any:
    """One of a kata's own steps (extras["worker_ops"]), for a counted run the parent drives
    itself (extras["driven"]): http-caching replays its request stream from the grader's
    process — the clients, the caches and the oracle out of the learner's reach — and
    sends here only each request that reaches the learner's app."""
    kata, module, _ = state.ready()
    handler = kata.extras["worker_ops"][req["name"]]
    with learner_errors(state.files, doing(kata)):
        return handler(module, state.kata_store, req.get("args", {}))


OPS: dict[str, Callable[[WorkerState, dict[str, Any]], Any]] = {
    "load": op_load,
    "measure": op_measure,
    # the counting in steps, so the parent can read its proxies' counters in between
    "prepare": op_prepare,
    "count": op_count,
    "memory": op_memory,
    "scenarios": op_scenarios,
    "try_fix": op_try_fix,  # diagnostics only: an N+1 finding's fix, measured
    # timing: the parent times "timed_call" alone, from its request to its reply
    "timing_setup": op_timing_setup,
    "timed_call": op_timed_call,
    "timed_output": op_timed_output,
    "warm": op_warm,
    # a spare started ahead of its grade (grader/spares.py): answered once it is idle
    "ready": lambda state, req: None,
    "kata": op_kata,  # a step of a counted run the parent drives (extras["driven"])
    "exit": lambda state, req: state.timing_services.close(),
}


def handle(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"ok": True, "result": OPS[req["op"]](state, req)}
    except LearnerCodeError as exc:
        error = {
            "kind": "learner",
            "message": exc.message,
            "hint": exc.hint,
            "file": exc.file,
            "line": exc.line,
            "details": exc.details,
        }
        return {"ok": False, "error": error}
    except Exception as exc:
        service = service_error_reply(exc, state.backends)  # a server gone: not a bug
        if service is not None:
            return {"ok": False, "error": service}
        return {
            "ok": False,
            "error": {"kind": "internal", "message": repr(exc), "details": traceback.format_exc()},
        }


def isolate_streams() -> tuple[TextIO, TextIO]:
    """Keep private copies of stdin/stdout for the protocol; give the learner stderr only."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 — lives as long as the process
    return requests, replies


def main() -> None:
    evidence = install()  # first: no learner code may run before the hook is in place
    requests, replies = isolate_streams()
    faulthandler.enable()
    # The parent sends SIGUSR1 before killing a worker that ran out of time: the dump
    # shows where the learner's code was stuck, even inside a busy `while True`.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    state = WorkerState(evidence=evidence)
    # Bound now, as locals: a solution that rebinds these globals or json's changes nothing
    # here (and the rebinding itself is reported).
    answer, loads, dumps, write = handle, json.loads, json.dumps, replies.write
    for line in requests:
        req = loads(line)
        if "seal" in req:  # the load request, read before any learner code exists
            evidence.seal(req.pop("seal"))
        line = ""  # nothing keeps the secret but the hook's closure
        reply = answer(state, req)
        # Not after a timed call (the parent's clock runs to this reply: the next one
        # checks), nor after a step the parent marks "between" (a driven run's requests:
        # ~18 ms a walk, hundreds of them; a rebinding stays, and its last step checks).
        if req["op"] != "timed_call" and not req.get("between"):
            evidence.compare()
        if reply.get("ok") and isinstance(reply.get("result"), dict):
            reply["result"]["tampering"] = evidence.events()
        # A reply the learner's code writes into the pipe itself lacks the seal; the seal
        # is gone once the hook saw tampering (a frame or the heap could have shown it).
        reply.update(seal=evidence.sealed(), tampering=evidence.events())
        write(dumps(reply) + "\n")
        if req["op"] == "exit":
            return
    orphaned()


def orphaned() -> None:
    """stdin ended without "exit": the parent is gone. Take the kata's job processes
    along (this worker leads their process group) rather than leave them running."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)


if __name__ == "__main__":
    main()
