"""`perfkata profile`: where the time (pyinstrument) or the memory (memray) goes when a
solution runs the kata's workload at its largest size. Each profile runs in a fresh
process of its own — one tracer per process, never while anything is timed — which
writes an HTML report and a JSON summary the parent reads back.

Child: `python -m perfkata.grader.profile_child REQUEST_JSON`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from perfkata.errors import InternalError, LearnerCodeError
from perfkata.fences import Fences
from perfkata.grader import leftovers
from perfkata.grader.capture import BoundedCapture
from perfkata.grader.process import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, end_tree, launch
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
    # Behind a grade's fences: it writes its report into a folder of the grade's (the
    # learner's uid may write nothing of the workspace), moved into place after it ends.
    stage = Path(owned["TMPDIR"]) / "profile-out"
    stage.mkdir()
    staged = {**request, **{k: str(stage / Path(request[k]).name) for k in STAGED}}
    child, _, _, strict = launch(
        [sys.executable, "-m", "perfkata.grader.profile_child", json.dumps(staged)],
        "profile",
        Path(request["module"]),
        Fences(writable=[stage]),
        DEFAULT_MEMORY_LIMIT,
        owned,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    output = BoundedCapture(child.stdout)
    try:
        code: int | None = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        end_tree(child, strict)  # whatever it forked goes too
        output.close()
    unstage(staged, request)
    return code, output.text()


STAGED = ("html", "summary", "trace")


def unstage(staged: dict[str, Any], request: dict[str, Any]) -> None:
    """The child's report and summary to where `profile` expects them, the summary naming
    the report's final path."""
    html, summary = Path(staged["html"]), Path(staged["summary"])
    if html.is_file():
        shutil.move(html, request["html"])
    if summary.is_file():
        data = json.loads(summary.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("html") == staged["html"]:
            data["html"] = request["html"]
        Path(request["summary"]).write_text(json.dumps(data), encoding="utf-8")


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
