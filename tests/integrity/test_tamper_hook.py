"""The audit hook (perfkata/audit.py) on its own, in a fresh interpreter per case (a hook
cannot be removed): a learner file is imported after install(), its `run()` called, and
the hook's events and driver count printed. Fast, and precise about what is recorded —
and what honest code (logging, warnings, dataclasses, SQLAlchemy) never triggers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

DRIVER = """
import importlib.util, json, sys
import sqlalchemy.event  # imported before the hook, as in the worker
from perfkata.audit import install

evidence = install()
path = sys.argv[1]
evidence.learner(path)
evidence.freeze({})
spec = importlib.util.spec_from_file_location("learner", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.run()
evidence.verify()
evidence.compare()
print(json.dumps({"events": evidence.events(), "driver": evidence.driver()}))
"""


def hooked(tmp_path: Path, learner: str) -> dict[str, Any]:
    path = tmp_path / "learner.py"
    path.write_text(textwrap.dedent(learner), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(path)],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard only
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def line_of(tmp_path: Path, marker: str) -> str:
    path = tmp_path / "learner.py"
    lines = path.read_text(encoding="utf-8").splitlines()
    return f"{path}:{next(i for i, text in enumerate(lines, 1) if marker in text)}"


HONEST = """
import asyncio, dataclasses, logging, sqlite3, traceback, warnings  # imports compile code
from collections import namedtuple

from sqlalchemy import create_engine, text

logging.basicConfig(level=logging.INFO)


def run():
    logging.getLogger("x").info("hello %s", 1)
    warnings.warn("careful")
    namedtuple("P", "a b")(1, 2)
    dataclasses.make_dataclass("D", ["a"])(1)
    try:
        1 / 0
    except ZeroDivisionError:
        traceback.format_exc()
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1")).all()
        conn.execute(text("SELECT 2")).all()
    with sqlite3.connect(":memory:") as raw:
        raw.execute("SELECT 3")
"""


def test_honest_code_records_nothing_and_every_statement_counts(tmp_path: Path) -> None:
    """Mutation tried: the standard library left out of the trusted roots → logging's
    and warnings' sys._getframe recorded as the learner's."""
    seen = hooked(tmp_path, HONEST)
    assert seen["events"] == []
    assert seen["driver"] == 3


@pytest.mark.parametrize(
    ("learner", "what"),
    [
        ("import sys\ndef run():\n    sys._getframe(0)  # HERE\n", "sys._getframe"),
        ("import inspect\ndef run():\n    inspect.stack()  # HERE\n", "sys._getframe"),
        (
            "import traceback\ndef run():\n    try:\n        1 / 0\n"
            "    except ZeroDivisionError as e:\n"
            "        list(traceback.walk_tb(e.__traceback__))  # HERE\n",
            "reading .tb_frame",
        ),
        ("import sys\ndef run():\n    sys._current_frames()  # HERE\n", "sys._current_frames"),
        (
            "def run():\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
            "        e.__traceback__.tb_frame  # HERE\n",
            "reading .tb_frame",
        ),
        ("def g():\n    yield 1\ndef run():\n    g().gi_frame  # HERE\n", "reading .gi_frame"),
        ("import gc\ndef run():\n    gc.get_objects()  # HERE\n", "gc.get_objects"),
        ("import gc\ndef run():\n    gc.get_referrers(run)  # HERE\n", "gc.get_referrers"),
        ("import sys\ndef run():\n    sys.settrace(None)  # HERE\n", "sys.settrace"),
        (
            "import sys\ndef run():\n    sys.addaudithook(lambda *a: None)  # HERE\n",
            "sys.addaudithook",
        ),
        ("import ctypes\ndef run():\n    ctypes.string_at(id(run), 8)  # HERE\n", "ctypes."),
        (
            "import logging\ndef run():\n    compile('x = 1', logging.__file__, 'exec')  # HERE\n",
            "compile as",
        ),
        (
            "import perfkata.audit as a\ndef run():\n    open(a.__file__).read()  # HERE\n",
            "opening",
        ),
    ],
)
def test_tampering_is_recorded_at_the_learner_s_line(
    tmp_path: Path, learner: str, what: str
) -> None:
    """Mutation tried: judge() recording nothing → every case fails."""
    seen = hooked(tmp_path, learner)
    where = line_of(tmp_path, "# HERE")
    assert any(what in e and e.endswith(f" at {where}") for e in seen["events"]), seen


SUBCLASS = """
import sqlite3


class Quiet(sqlite3.Connection):
    def set_trace_callback(self, callback):
        pass  # the hook calls sqlite3.Connection's own, never this


def run():
    conn = sqlite3.Connection(":memory:")  # no connect() call at all
    conn.execute("SELECT 1")
    other = sqlite3.connect(":memory:", factory=Quiet)
    other.execute("SELECT 2")
    other.execute("SELECT 3")
"""


def test_connections_are_counted_however_they_are_made(tmp_path: Path) -> None:
    """Mutation tried: attach() calling conn.set_trace_callback (the subclass's) → 1."""
    seen = hooked(tmp_path, SUBCLASS)
    assert seen == {"events": [], "driver": 3}


REMOVED = """
import sqlite3

conn = sqlite3.connect(":memory:")  # HERE


def run():
    conn.set_trace_callback(None)
    conn.execute("SELECT 1")
"""


def test_a_removed_counter_is_found_by_the_sentinel(tmp_path: Path) -> None:
    """Mutation tried: verify() returning at once → no event."""
    seen = hooked(tmp_path, REMOVED)
    assert seen["driver"] == 0
    assert seen["events"] == [
        f"the statement counter removed from the sqlite3 connection made at "
        f"{line_of(tmp_path, '# HERE')}"
    ]


PATCHED = """
import signal
import sqlalchemy.event


def listen(*args, **kwargs):  # HERE
    pass


def run():
    sqlalchemy.event.listen = listen
    signal.signal(signal.SIGUSR2, lambda number, frame: None)
"""


def test_rebound_library_code_and_signal_handlers_are_found(tmp_path: Path) -> None:
    """Mutation tried: namespaces_as_they_are() leaving out sqlalchemy's modules → the
    rebinding unseen."""
    events = hooked(tmp_path, PATCHED)["events"]
    where = line_of(tmp_path, "# HERE")
    assert f"sqlalchemy.event.listen replaced by listen at {where}" in events
    assert any("a handler set for signal" in e for e in events)


def test_the_seal_is_dropped_before_a_frame_is_handed_over(tmp_path: Path) -> None:
    learner = """
    import sys


    def run():
        frame = sys._getframe(1)
        print(repr(frame.f_globals["evidence"].sealed()), file=sys.stderr)
    """
    path = tmp_path / "learner.py"
    path.write_text(textwrap.dedent(learner), encoding="utf-8")
    driver = DRIVER.replace("evidence.freeze({})", "evidence.freeze({})\nevidence.seal('s3cret')")
    done = subprocess.run(
        [sys.executable, "-c", driver, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "None" in done.stderr and "s3cret" not in done.stderr, done.stderr
