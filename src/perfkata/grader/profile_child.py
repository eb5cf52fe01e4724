"""The profiling child process: one solution, one tracer, one run at the largest size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from perfkata.errors import LearnerCodeError
from perfkata.grader.grade import forbidden_to
from perfkata.grader.profiling import hot_lines_from_memray, hot_lines_from_pyinstrument
from perfkata.grader.worker import WorkerState, op_load, rebuild, run_once


def prepared(req: dict[str, Any]) -> WorkerState:
    state = WorkerState()
    forbidden = forbidden_to("learner", Path(req["module"]))
    op_load(state, {"kata": req["kata"], "module": req["module"], "forbidden": forbidden})
    kata, _, _ = state.ready()
    rebuild(state, kata.largest, req["seed"])
    return state


def profile_time(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    with state.services() as services:
        profiler.start()
        try:
            run_once(state, services)
        finally:
            profiler.stop()
    Path(req["html"]).write_text(profiler.output_html(), encoding="utf-8")
    session = profiler.last_session
    assert session is not None
    lines = hot_lines_from_pyinstrument(session.root_frame(), str(Path(req["module"])))
    return {
        "html": req["html"],
        "seconds": session.duration,
        "text": profiler.output_text(unicode=True, color=False, show_all=False),
        "hot_lines": [[line, micros / 1e6 / session.duration] for line, micros in lines],
    }


def profile_memory(state: WorkerState, req: dict[str, Any]) -> dict[str, Any]:
    import memray

    trace = Path(req["trace"])
    trace.unlink(missing_ok=True)
    with state.services() as services, memray.Tracker(trace):
        run_once(state, services)
    reader = memray.FileReader(trace)
    records = reader.get_high_watermark_allocation_records(merge_threads=True)
    lines = hot_lines_from_memray(records, str(Path(req["module"])))
    subprocess.run(
        [sys.executable, "-m", "memray", "flamegraph", "-f", "-o", req["html"], str(trace)],
        check=True,
        capture_output=True,
    )
    meta = reader.metadata
    trace.unlink(missing_ok=True)
    return {
        "html": req["html"],
        "peak_bytes": meta.peak_memory,
        "allocations": meta.total_allocations,
        "hot_lines": lines,
    }


def main(req: dict[str, Any]) -> None:
    try:
        state = prepared(req)
        summary = profile_memory(state, req) if req["memory"] else profile_time(state, req)
    except LearnerCodeError as exc:
        summary = {"error": {"message": exc.message, "file": exc.file, "line": exc.line}}
    Path(req["summary"]).write_text(json.dumps(summary), encoding="utf-8")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
