"""Starts a setsid grandchild, then SIGKILLs its own worker mid-grade.

attack: the grader's clean-up after a worker died knows only the worker's process group;
    a double-forked child in a session of its own, re-executed without the grade's owner
    tag (GRADE_OWNER), is left running under pid 1 (for two minutes). Then the worker
    SIGKILLs itself (or, as pid 1 of a PID namespace, which ignores that, exits). The
    escapee is recorded in <this file's stem>.escape.json (pid, sid, pgid, pid namespace).
kata: n-plus-one-blog
backend: sqlite
escape: yes
expect: ended its process
"""

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from sqlalchemy.orm import Session

RECORD_DIR = None  # the test may write a folder here when it copies the attack
RECORD = Path(RECORD_DIR or Path(__file__).parent) / (Path(__file__).stem + ".escape.json")


def _me() -> dict:
    stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {
        "pid": os.getpid(),
        "sid": os.getsid(0),
        "pgid": os.getpgrp(),
        "ns": namespace,
        "starttime": int(stat[19]),
    }


def _escape() -> None:
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            # Nowhere to say where it is (read-only files): it lingers all the same, unseen.
            with contextlib.suppress(OSError):
                RECORD.write_text(json.dumps({"escapees": [_me()]}))
            os.write(ready_w, b"y")
            os.closerange(3, 4096)
            untagged = {k: v for k, v in os.environ.items() if k != "GRADE_OWNER"}
            sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
            try:
                os.execve(sys.executable, sleeper, untagged)  # same pid, no owner tag
            finally:
                os._exit(0)
        os._exit(0)
    os.wait()
    os.read(ready_r, 1)  # the escapee is recorded (or gone) before the worker dies


def render_index(session: Session) -> list[dict]:
    _escape()
    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)  # still here: pid 1 of a PID namespace ignores its own SIGKILL
