"""Load a solution file (the learner's, the starter or the reference) as a module, and
turn whatever goes wrong in it into one sentence at the learner's file and line."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from perfkata.bench.sourceline import LearnerFiles
from perfkata.errors import LearnerCodeError, ServiceFailed
from perfkata.grader.database import service_failure


def check_syntax(path: Path) -> None:
    """Compile without running, so a syntax error is reported before any process starts."""
    try:
        # Bytes, as Python reads a file it runs: a UTF-8 byte-order mark or a coding
        # cookie is honoured, so what Python runs compiles here too.
        source = path.read_bytes()
    except OSError as exc:
        raise LearnerCodeError(f"Cannot read {path}: {exc}.", file=str(path)) from None
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        where = f"{path.name}:{exc.lineno}" if exc.lineno else path.name
        raise LearnerCodeError(
            f"Syntax error in {where}: {exc.msg}.",
            file=str(path),
            line=exc.lineno,
            hint="Fix it and grade again.",
        ) from None


def load_module(path: Path, entry_points: tuple[str, ...]) -> ModuleType:
    """Import the file under a private name, with its folder first on sys.path."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"perfkata_solution_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LearnerCodeError(f"Cannot import {path}.", file=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with learner_errors(LearnerFiles([str(path)]), f"importing {path.name}"):
        spec.loader.exec_module(module)
    missing = [fn for fn in entry_points if not callable(getattr(module, fn, None))]
    if missing:
        raise LearnerCodeError(
            f"{path.name} has no function {missing[0]}(), which the grader calls.",
            file=str(path),
            hint="Keep the functions the starter defines, with the same names.",
        )
    return module


class learner_errors:
    """Context manager: re-raise an exception from learner code as a LearnerCodeError."""

    def __init__(self, files: LearnerFiles, doing: str) -> None:
        self.files = files
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, LearnerCodeError | KeyboardInterrupt | ServiceFailed):
            return False
        failed = service_failure(exc)
        if failed is not None:  # the server went away under the code: not its error
            raise ServiceFailed(*failed) from exc
        if isinstance(exc, SystemExit):
            raise LearnerCodeError(
                f"The code called sys.exit({exc.code}) while {self.doing}.",
                hint="Return a value instead of exiting.",
            ) from None
        where = self.files.innermost_in_traceback(tb)
        location = f" at {where.short()} (in {where.function})" if where else ""
        summary = "".join(traceback.format_exception_only(kind, exc)).strip()
        raise LearnerCodeError(
            f"{summary}{location}, while {self.doing}.",
            file=where.file if where else None,
            line=where.line if where else None,
            details="".join(traceback.format_exception(kind, exc, tb)),
        ) from None


def to_plain_data(value: Any, function: str, path: str) -> Any:
    """The output as JSON data, or a clear error if it holds ORM objects or the like."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise LearnerCodeError(
            f"{function}() in {os.path.basename(path)} returned data that is not plain "
            f"lists, dicts, strings and numbers ({exc}).",
            file=path,
            hint="Return the same shape the starter returns.",
        ) from None
