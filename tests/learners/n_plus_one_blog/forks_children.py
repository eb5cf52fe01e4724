"""Starts child processes that never end, then loops: the grader must time out and leave
no process behind."""

import os
import time
from pathlib import Path

# The worker's TMPDIR is a folder of the grade's own, removed when it ends: the pids go
# beside it, in the temp folder the test gave perfkata.
PIDS = Path(os.environ.get("TMPDIR", "/tmp")).parent / "perfkata-test-forked-pids"


def render_index(session):
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            while True:
                time.sleep(1)
        with PIDS.open("a") as handle:
            handle.write(f"{pid}\n")
    while True:
        time.sleep(1)
