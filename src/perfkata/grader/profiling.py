"""`perfkata profile`: where the time (pyinstrument) or the memory (memray) goes when a
solution runs the kata's workload at its largest size. Each profile runs in a fresh
process of its own — one tracer per process, never while anything is timed — which
writes an HTML report and a JSON summary the parent reads back.

Child: `python -m perfkata.grader.profile_child REQUEST_JSON`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from perfkata.errors import InternalError, LearnerCodeError
from perfkata.grader.process import DEFAULT_TIMEOUT
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
    try:
        done = subprocess.run(
            [sys.executable, "-m", "perfkata.grader.profile_child", json.dumps(request)],
            env=worker_environment(os.environ),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise LearnerCodeError(
            f"The profiled run did not finish within {timeout:g} s.",
            file=str(solution),
            hint="Look for a loop that never ends, or raise the limit with --timeout.",
        ) from None
    summary_path = Path(request["summary"])
    if done.returncode != 0 or not summary_path.is_file():
        raise InternalError(
            f"profiling {kata.slug} failed: {done.stderr.strip().splitlines()[-1:] or ['?']}",
            details=done.stderr,
        )
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    summary_path.unlink()
    if summary.get("error"):
        error = summary["error"]
        raise LearnerCodeError(error["message"], file=error["file"], line=error["line"])
    return summary


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
