"""No process a learner starts outlives the grade: a `setsid` double fork leaves the
worker's process group and session and is re-parented away from it, yet the grade's end
— or a SIGKILL of the worker — takes it too.

The escaped sleeper connects to a socket of the test's, which is how the test finds it
again: the host pid holding that connection, then its process group and session."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest
from fencekit import grade, group_and_session, listener, members, socket_owner, workspace_with

from perfkata import fences

pytestmark = pytest.mark.skipif(
    not fences.namespaces_available(), reason="this kernel refuses PID/mount namespaces"
)

ESCAPE = """
    import os, socket, time

    def escape(port):
        ready, connected = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                held = socket.create_connection(("127.0.0.1", port))
                os.write(connected, b"x")
                time.sleep(3600)
            os._exit(0)
        os.wait()
        os.read(ready, 1)  # the sleeper is connected: the test can find it

    escape({sleeper_port})
"""

THEN_WAIT_TO_BE_KILLED = """
    worker = socket.create_connection(("127.0.0.1", {worker_port}))
    time.sleep(600)
"""


class Watcher:
    """Accepts connections in the background and notes who holds each one."""

    def __init__(self) -> None:
        self.server = listener()
        self.port = self.server.getsockname()[1]
        self.owners: list[tuple[int, int, int]] = []  # (pid, pgid, sid)
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        self.connections.append(conn)
        pid = socket_owner(conn)
        if pid is not None:
            self.owners.append((pid, *group_and_session(pid)))

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            conn.close()


def test_a_setsid_double_fork_dies_with_the_grade(tmp_path: Path) -> None:
    # Given a correct solution that starts a sleeper in a session of its own
    sleeper = Watcher()
    try:
        ws, _ = workspace_with(tmp_path, ESCAPE.format(sleeper_port=sleeper.port))
        # When it is graded
        done = grade(ws)
        assert done.returncode == 0, done.stdout + done.stderr
        sleeper.thread.join(timeout=60)
        # Then the sleeper had escaped (its own group and session) and is gone
        [(pid, pgid, sid)] = sleeper.owners
        assert pgid == sid != pid  # a session of its own, led by the parent it left
        assert members(pgid, sid) == []
    finally:
        sleeper.close()


def test_a_setsid_double_fork_dies_when_the_worker_is_killed(tmp_path: Path) -> None:
    # Given a solution that starts an escaped sleeper, then waits in its worker
    sleeper, worker = Watcher(), Watcher()
    attack = ESCAPE + THEN_WAIT_TO_BE_KILLED
    try:
        ws, _ = workspace_with(
            tmp_path, attack.format(sleeper_port=sleeper.port, worker_port=worker.port)
        )
        # When the worker is SIGKILLed from outside while the grade runs
        killer = threading.Thread(target=kill_when_connected, args=(worker, sleeper), daemon=True)
        killer.start()
        done = grade(ws)
        killer.join(timeout=60)
        # Then the grade names the dead worker, and the sleeper died with it
        assert done.returncode == 2, done.stdout + done.stderr
        assert "ended its process" in done.stdout + done.stderr
        [(_, pgid, sid)] = sleeper.owners
        assert members(pgid, sid) == []
    finally:
        sleeper.close()
        worker.close()


def kill_when_connected(worker: Watcher, sleeper: Watcher) -> None:
    sleeper.thread.join(timeout=120)  # found before the worker dies
    worker.thread.join(timeout=120)
    for pid, _, _ in worker.owners:
        os.kill(pid, signal.SIGKILL)
