"""The sweep each grade starts with: what a dead owner left goes, a live owner's stays."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from perfkata.grader import leftovers
from perfkata.ownership import OWNER_ENV, alive, host_id


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert not alive(ended.pid)
    return ended.pid


def test_temp_folders_of_dead_owners_go_and_live_ones_stay(tmp_path: Path) -> None:
    # Given a folder of a dead owner, one of this (live) process, and an old-style one
    dead = tmp_path / f"perfkata-{dead_pid()}-abcd1234-xyz"
    live = tmp_path / f"perfkata-{os.getpid()}-abcd1234-xyz"
    legacy = tmp_path / "perfkata-k2j4h5g6"
    for folder in (dead, live, legacy):
        (folder / "inner").mkdir(parents=True)
        (folder / "inner" / "kata.sqlite3").write_bytes(b"x")
    # When swept
    leftovers.sweep_temp(tmp_path)
    # Then only the dead owner's folder is gone (an unowned one waits a day)
    assert not dead.exists() and live.exists() and legacy.exists()


def test_processes_of_dead_owners_are_killed(tmp_path: Path) -> None:
    # Given a process left by a grade whose perfkata died (a kata's job process, say)
    env = dict(os.environ, **{OWNER_ENV: f"{dead_pid()}_deadbeef"})
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env)
    mine = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        env=dict(os.environ, **{OWNER_ENV: f"{os.getpid()}_cafe0001"}),
    )
    try:
        deadline = time.monotonic() + 30  # until its environment is readable in /proc
        while orphan.pid not in dict(leftovers.tagged_processes()) and time.monotonic() < deadline:
            time.sleep(0.05)
        # When swept
        leftovers.sweep_processes()
        # Then the orphan is killed, and a live grade's process is left alone
        assert orphan.wait(timeout=30) == -9
        assert mine.poll() is None
    finally:
        for proc in (orphan, mine):
            proc.kill()
            proc.wait()


def test_only_this_hosts_dead_owners_are_swept_from_a_shared_server() -> None:
    # Given names made by a dead pid here, and by the same pid on another machine that
    # shares the PostgreSQL/Redis server (its pids mean nothing here)
    pid, here = dead_pid(), host_id()
    elsewhere = "ffffff" if here != "ffffff" else "000000"
    # Then only this host's are leftovers
    assert leftovers.dead_owner(f"perfkata_{pid}_{here}abcdef", leftovers._SCHEMA_OWNED)
    assert not leftovers.dead_owner(f"perfkata_{pid}_{elsewhere}abcdef", leftovers._SCHEMA_OWNED)
    dead = lambda owner: not alive(owner)  # noqa: E731
    assert leftovers._doomed_key(f"perfkata:{pid}_{here}abcdef_1234:product:1", dead, None)
    assert not leftovers._doomed_key(f"perfkata-run-{pid}_{elsewhere}abcdef_12:q", dead, None)
    # and a live owner's never are
    live = f"perfkata_{os.getpid()}_{here}abcdef"
    assert not leftovers.dead_owner(live, leftovers._SCHEMA_OWNED)
