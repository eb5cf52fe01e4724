"""`perfkata profile`: where the time (pyinstrument) or the memory (memray) goes when a
solution runs the kata's workload at its largest size. Each profile runs in a fresh
process of its own — one tracer per process, never while anything is timed — which
writes an HTML report and a JSON summary the parent reads back.

Child: `python -m perfkata.grader.profile_child REQUEST_JSON`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from perfkata.errors import InternalError, LearnerCodeError
from perfkata.grader import leftovers
from perfkata.grader.capture import BoundedCapture
from perfkata.grader.process import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, _fence, process_cap
from perfkata.isolation import worker_environment
from perfkata.katas.base import Kata

TOP_LINES = 5


def profile(
    kata: Kata,
    solution: Path,
    out_dir: Path,
    memory: bool,
    seed: int,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Run the child and return its summary: html path(s), hot lines, text or figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{kata.slug}-{time.strftime('%Y%m%d-%H%M%S')}-{'memory' if memory else 'time'}"
    request: dict[str, Any] = {
        "kata": kata.slug,
        "module": str(solution),
        "memory": memory,
        "seed": seed,
        "html": str(out_dir / f"{stem}.html"),
        "summary": str(out_dir / f"{stem}.json"),
        "trace": str(out_dir / f"{stem}.bin"),
    }
    with leftovers.owned_by_this_grade(None, None) as owned:
        code, output = run_child(request, timeout, owned)
    if code is None:
        Path(request["trace"]).unlink(missing_ok=True)
        raise LearnerCodeError(
            f"The profiled run did not finish within {timeout:g} s.",
            file=str(solution),
            hint="Look for a loop that never ends, or raise the limit with --timeout.",
        )
    summary_path = Path(request["summary"])
    if code != 0 and "MemoryError" in output:  # the limit a grade has, outside its code
        raise LearnerCodeError(
            f"The profiled run ran out of memory (limit {DEFAULT_MEMORY_LIMIT / 2**30:g} GiB, "
            "as in a grade).",
            file=str(solution),
            hint="Fetch and keep fewer rows at once (perfkata grade shows the memory check).",
            details=output,
        )
    if code != 0 or not summary_path.is_file():
        raise InternalError(
            f"profiling {kata.slug} failed: {output.strip().splitlines()[-1:] or ['?']}",
            details=output,
        )
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    summary_path.unlink()
    prune(out_dir, kata.slug)
    if summary.get("error"):
        error = summary["error"]
        raise LearnerCodeError(error["message"], file=error["file"], line=error["line"])
    return summary


KEEP_PROFILES = 10  # per kata: each HTML report is ~1.3 MB, and they used to pile up


def prune(out_dir: Path, slug: str, keep: int = KEEP_PROFILES) -> None:
    """Only the newest reports of a kata stay (names sort by time: kata-YYYYmmdd-HHMMSS)."""
    reports = sorted(out_dir.glob(f"{slug}-*.html"), key=lambda p: p.name, reverse=True)
    for old in reports[keep:]:
        old.unlink(missing_ok=True)


def run_child(
    request: dict[str, Any], timeout: float, owned: dict[str, str]
) -> tuple[int | None, str]:
    """The profiling child fenced in as a grade's workers are: the same memory limit and
    process cap, its own process group killed whole on timeout (forks included), dying
    with perfkata, its output bounded. (exit code or None on timeout, its output)"""
    child = subprocess.Popen(
        [sys.executable, "-m", "perfkata.grader.profile_child", json.dumps(request)],
        env=worker_environment(os.environ) | owned,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_fence(DEFAULT_MEMORY_LIMIT, process_cap()),
        start_new_session=True,
    )
    assert child.stdout is not None
    output = BoundedCapture(child.stdout)
    try:
        code: int | None = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # whatever it forked goes too
        child.wait()
        output.close()
    return code, output.text()


def hot_lines_from_pyinstrument(root: Any, learner_file: str) -> list[tuple[int, int]]:
    """Microseconds per line of the learner's file: pyinstrument records, for each frame,
    the time spent at each of its lines (callees included) as "l<line>" attributes."""
    per_line: Counter[int] = Counter()
    stack: list[Any] = [root] if root is not None else []
    while stack:
        frame = stack.pop()
        if frame.file_path == learner_file:
            for attribute, seconds in frame.attributes.items():
                if attribute.startswith("l") and attribute[1:].isdigit():
                    line = int(attribute[1:])
                    # A comprehension on a line is a frame of its own inside the
                    # function's frame at that same line: take the larger, never both.
                    per_line[line] = max(per_line[line], round(seconds * 1e6))
        stack.extend(frame.children)
    return per_line.most_common(TOP_LINES)


def hot_lines_from_memray(records: Any, learner_file: str) -> list[tuple[int, int]]:
    """Bytes held at the peak, by the innermost line of the learner's file in each stack."""
    per_line: Counter[int] = Counter()
    for record in records:
        for _function, filename, line in record.stack_trace():
            if filename == learner_file:
                per_line[line] += record.size
                break
    return per_line.most_common(TOP_LINES)
