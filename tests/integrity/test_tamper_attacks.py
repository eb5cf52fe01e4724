"""Solutions that forge their grade from inside the worker, each graded by a real
`perfkata grade n-plus-one-blog --no-timing`: every one is caught by the worker's audit
hook (perfkata/audit.py) and scores 0 with "tampering detected: … at <file>:<line>".

All of them keep the starter's N+1 (or run no SQL at all). Each test names the mutation
of the defence it was seen to fail under (run against a mutated copy of src/ on
PYTHONPATH). Several defences overlap on purpose: with one switched off, another may
still fail the grade, but without the learner's line — which these tests require."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from clirun import perfkata

# one end-to-end grade per attack: CI runs it, the quick subset does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
STARTER = (ROOT / "starter" / "n-plus-one-blog" / "blog.py").read_text(encoding="utf-8")


def graded(tmp_path: Path, prelude: str, body: str | None = None) -> tuple[str, int, Path]:
    """The starter with `prelude` run at import (and render_index's body replaced by
    `body`), in a workspace as `perfkata start` leaves it, graded; (output, exit, file)."""
    head, _, tail = STARTER.partition("def render_index")
    source = head + prelude + "\n\ndef render_index" + (tail if body is None else body)
    ws = tmp_path / "ws"
    started = perfkata("start", "n-plus-one-blog", "--dir", str(ws), cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    blog = ws / "n-plus-one-blog" / "blog.py"
    blog.write_text(source, encoding="utf-8")
    output, code = grade(ws, "--dir", str(ws))
    return output, code, blog


def grade(cwd: Path, *args: str) -> tuple[str, int]:
    done = perfkata("grade", "n-plus-one-blog", "--no-timing", "--seed", "7", *args, cwd=cwd)
    return done.stdout + done.stderr, done.returncode


def line_of(blog: Path, marker: str) -> int:
    lines = blog.read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text)


def assert_tampering(output: str, code: int, blog: Path, line: int) -> None:
    assert code == 1, output
    assert "tampering detected" in output, output
    assert f"{blog}:{line}" in re.sub(r"\s+", "", output.replace("\n", "")) or (
        f"{blog}:{line}" in output
    ), output
    assert "score 0/100" in output, output
    # Said as tampering, not as a wrong answer; no row judged on what the worker reported
    assert "Tampering scores 0" in output and "A wrong answer" not in output, output
    assert re.search(r"\s—\s+—\s.*not run", output), output


# Mutation tried: the hook's rebound-globals check off (compare() a no-op) → the test
# fails: only the driver-count comparison caught it ("the SQLite driver ran 108
# statements … the worker's probes reported 0"), naming no line.
PROBES_PATCHED = """
import time

from perfkata.bench.probes.lazyloads import LazyLoadProbe
from perfkata.bench.probes.queries import QueryProbe


def _silent(self, *args, **kwargs):  # PATCH
    return None


QueryProbe._on_execute = _silent
QueryProbe._on_driver = _silent
LazyLoadProbe._on_execute = _silent
time.perf_counter = lambda: 0.0
"""


def test_probes_patched_at_import(tmp_path: Path) -> None:
    output, code, blog = graded(tmp_path, PROBES_PATCHED)
    assert_tampering(output, code, blog, line_of(blog, "# PATCH"))
    assert "QueryProbe._on_execute replaced" in output


# Mutation tried: the hook's frame events off (judge() ignoring sys._getframe) → the
# test fails (only the zero-statement rule of grader/tamper.py caught it, with no line).
FRAMES = """
import sys

from perfkata.katas.n_plus_one_blog import data
"""
FRAMES_BODY = """(session: Session) -> list[dict]:
    frame = sys._getframe(1)  # WALK
    while frame is not None:
        env = frame.f_locals.get("env")
        if env is not None and hasattr(env, "seed"):
            return data.expected_index(data.generate(env.size, env.seed))
        frame = frame.f_back
    return []
"""


def test_stack_walk_to_the_grader_s_answer(tmp_path: Path) -> None:
    output, code, blog = graded(tmp_path, FRAMES, FRAMES_BODY)
    assert_tampering(output, code, blog, line_of(blog, "# WALK"))
    assert "sys._getframe" in output


# The same through an exception's traceback (tb_frame), with one statement sent so the
# zero-statement rule does not catch it. Mutation tried: "tb_frame" dropped from
# audit._FRAME_ATTRIBUTES → the test fails.
TRACEBACK_BODY = """(session: Session) -> list[dict]:
    session.scalars(select(Post).limit(1)).all()
    try:
        raise RuntimeError
    except RuntimeError as exc:
        frame = exc.__traceback__.tb_frame  # WALK
    while frame is not None:
        env = frame.f_locals.get("env")
        if env is not None and hasattr(env, "seed"):
            return data.expected_index(data.generate(env.size, env.seed))
        frame = frame.f_back
    return []
"""


def test_traceback_frame_to_the_grader_s_answer(tmp_path: Path) -> None:
    output, code, blog = graded(tmp_path, FRAMES, TRACEBACK_BODY)
    assert_tampering(output, code, blog, line_of(blog, "# WALK"))
    assert "tb_frame" in output


# `from sqlite3 import connect` at import, before any probe could swap sqlite3.connect,
# then the statement counter taken off that connection. Mutation tried: verify() in
# audit.py returning at once → the test fails.
RAW_CONNECTION = """
from sqlite3 import connect
"""
RAW_BODY = """(session: Session) -> list[dict]:
    conn = connect(session.get_bind().url.database)  # CONNECT
    conn.set_trace_callback(None)
    posts = session.scalars(select(Post).order_by(Post.id)).all()
    index = []
    for post in posts:
        author = conn.execute("SELECT name FROM users WHERE id = ?", (post.author_id,))
        category = conn.execute("SELECT name FROM categories WHERE id = ?", (post.category_id,))
        comments = conn.execute(
            "SELECT users.name FROM comments JOIN users ON users.id = comments.author_id"
            " WHERE comments.post_id = ? ORDER BY comments.id",
            (post.id,),
        ).fetchall()
        index.append(
            {
                "title": post.title,
                "author": author.fetchone()[0],
                "category": category.fetchone()[0],
                "comment_count": len(comments),
                "commenters": [name for (name,) in comments],
            }
        )
    return index
"""


def test_raw_connection_with_its_counter_removed(tmp_path: Path) -> None:
    output, code, blog = graded(tmp_path, RAW_CONNECTION, RAW_BODY)
    assert_tampering(output, code, blog, line_of(blog, "# CONNECT"))
    assert "statement counter removed" in output


def test_raw_connection_bound_at_import_is_counted(tmp_path: Path) -> None:
    """Without removing the counter, nothing is forged: the raw queries are counted
    (the hook traces the connection however it was made) and the N+1 fails as one.
    Mutation tried: QueryProbe ignoring the hook's feed (the old sqlite3.connect swap,
    which the connect bound at import escapes) → the test fails."""
    body = RAW_BODY.replace("    conn.set_trace_callback(None)\n", "")
    output, code, _ = graded(tmp_path, RAW_CONNECTION, body)
    assert code == 1, output
    assert "tampering" not in output, output
    assert re.search(r"statements flat as N grows\s+≈ 3·N \+ 1 .* FAIL", output), output
    assert "went to the database driver directly" in output


# The worker's own table of operations, reached through sys.modules["__main__"]:
# its count reply rewritten. Mutation tried: op_load freezing {} instead of
# {"worker OPS": OPS} → the test fails (the driver-count comparison still fails the
# grade, without a line).
WORKER_PATCHED = """
import sys

_worker = sys.modules["__main__"]
_count = _worker.OPS["count"]


def _forged(state, req):  # FORGE
    reply = _count(state, req)
    reply["counters"]["statements"] = 1
    return reply


_worker.OPS["count"] = _forged
"""


def test_worker_operations_rewritten(tmp_path: Path) -> None:
    output, code, blog = graded(tmp_path, WORKER_PATCHED)
    assert_tampering(output, code, blog, line_of(blog, "# FORGE"))
    assert "OPS.count replaced" in output


@pytest.mark.parametrize("sample", ["subquery_fix.py", "selectin_everything.py", "raw_driver.py"])
def test_honest_samples_raise_no_alarm(tmp_path: Path, sample: str) -> None:
    """Correct samples pass (raw_driver's raw per-post queries fail on their count, not
    as tampering). Mutation tried: perfkata's own package left out of the trusted roots
    (its probes' sys._getframe, its katas opening their briefs) → all three fail with
    "tampering detected"."""
    path = ROOT / "tests" / "learners" / "n_plus_one_blog" / sample
    output, code = grade(tmp_path, "--solution", str(path))
    assert "tampering" not in output, output
    assert code == (1 if sample == "raw_driver.py" else 0), output


# A reply written straight into the worker's reply pipe (found in /proc/self/fd), ahead
# of the worker's own. Mutation tried: check_seal() a no-op → the test fails (the parent
# took the forged line for a reply: TypeError, an internal error).
FORGED_REPLY = '''
import json
import os
import stat


def _reply_pipes():
    """Write-only pipes other than stderr's: the protocol's reply pipe among them."""
    stderr_pipe = os.fstat(2).st_ino
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            info = os.fstat(fd)
            with open(f"/proc/self/fdinfo/{fd}") as fdinfo:
                flags = int(fdinfo.read().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError, ValueError):
            continue
        if fd > 2 and stat.S_ISFIFO(info.st_mode) and flags & os.O_WRONLY:
            if info.st_ino != stderr_pipe:
                yield fd


def _forge():
    counters = {"statements": 1, "lazy_loads": 0, "unused_eager_loads": 0}
    reply = {"ok": True, "result": {"size": 50, "counters": counters, "output": []}}
    for fd in _reply_pipes():
        os.write(fd, (json.dumps(reply) + "\\n").encode())
'''
FORGED_BODY = """(session: Session) -> list[dict]:
    _forge()
    return []
"""


def test_reply_written_into_the_worker_s_pipe(tmp_path: Path) -> None:
    output, code, _ = graded(tmp_path, FORGED_REPLY, FORGED_BODY)
    assert "tampering detected" in output, output
    assert "did not write" in output, output
    assert code == 1, output  # a failed kata (TamperingDetected), not a usage error's 2


# cached-catalog's gate is its stale-reads check, not the output: tampering must fail it
# all the same. Mutation tried: rubric.evaluate_check without its tampering line → the
# test fails: the gate passed and the tampering found went unsaid (the attack corpus's
# catalog_record_forged.py scored 90/100 "PASSED" that way).
CATALOG_FORGED = """
from perfkata.katas.base import RunEnv

_record = RunEnv.record


def _ideal(self, name, value):  # FORGE
    ideal = {"statements_per_read": 0.0, "hit_ratio": 1.0, "new_keys_per_100_rereads": 0.0}
    _record(self, name, ideal.get(name, value))


RunEnv.record = _ideal
"""


def test_tampering_fails_a_gate_that_is_not_the_output(tmp_path: Path) -> None:
    starter = (ROOT / "starter" / "cached-catalog" / "catalog.py").read_text(encoding="utf-8")
    ws = tmp_path / "ws"
    started = perfkata("start", "cached-catalog", "--dir", str(ws), cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    catalog = ws / "cached-catalog" / "catalog.py"
    catalog.write_text(starter + "\n" + CATALOG_FORGED, encoding="utf-8")
    done = perfkata(
        "grade", "cached-catalog", "--no-timing", "--seed", "7", "--dir", str(ws), cwd=ws
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert (
        f"tampering detected: perfkata.katas.base.RunEnv.record replaced by _ideal at {catalog}:"
        in output
    )
    assert "score 0/100" in output, output
    # Said as tampering, not as a wrong answer; no row judged on what the worker reported
    assert "Tampering scores 0" in output and "A wrong answer" not in output, output
    assert re.search(r"\s—\s+—\s.*not run", output), output


# Tampering followed by a crash (the forged request it looked for was not there): the
# tampering is reported and fails the kata, not the crash alone. Mutation tried:
# WorkerProcess.receive ignoring the error reply's "tampering" → exit 2, the KeyError only.
TAMPER_THEN_CRASH = """
import sys

_frame = sys._getframe(0)  # FORGE
raise KeyError("cache_dir")
"""


def test_tampering_then_a_crash_reports_the_tampering(tmp_path: Path) -> None:
    output, code, _ = graded(tmp_path, TAMPER_THEN_CRASH)
    assert code == 1, output
    assert "tampering detected" in output, output
    assert "KeyError" in output, output  # what followed is said too
