"""A scripted learner session under a real terminal (tmux): start, watch, save a partial
fix, see the table change, save the full fix, see the pass, Ctrl-C out cleanly."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tmuxterm import HANG_GUARD, end_server, need_tmux, tmux

ROOT = Path(__file__).parents[2]
LEARNERS = ROOT / "tests" / "learners" / "n_plus_one_blog"
KATA = "n-plus-one-blog"


def wait_for(session: str, text: str, timeout: float = HANG_GUARD) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(session, "capture-pane", "-p", "-J", "-t", session)  # the visible screen only
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


@pytest.fixture
def session(tmp_path: Path):
    need_tmux()
    subprocess.run(
        [sys.executable, "-m", "perfkata", "start", KATA],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    name = f"perfkata-{uuid.uuid4().hex[:8]}"
    # None of the developer's PERFKATA_* settings (a Redis URL …) reach the learner's watch.
    unset = " ".join(f"-u {key}" for key in os.environ if key.startswith("PERFKATA_"))
    watch = f"env {unset} {sys.executable} -m perfkata watch --no-timing"
    command = f"cd {tmp_path} && {watch}; sleep 60"
    tmux(name, "new-session", "-d", "-s", name, "-x", "160", "-y", "60", command)
    yield name, tmp_path / "perfkata-work" / KATA / "blog.py"
    end_server(name)


@pytest.mark.slow  # a scripted session of three grades
def test_watch_regrades_on_each_save_until_the_pass(session):
    name, learner_file = session
    screen = wait_for(name, "Watching")
    assert "N+1: Post.author lazily loaded" in screen and "FAILED" in screen

    learner_file.write_text((LEARNERS / "partial_authors.py").read_text())
    # The partial fix moves the comments' N+1 to line 16 and removes the authors' one.
    screen = wait_for(name, "N+1: Post.comments lazily loaded 800 times at blog.py:16")
    screen = wait_for(name, "Watching")
    assert "N+1: Post.author" not in screen

    learner_file.write_text((ROOT / "solutions" / KATA / "blog.py").read_text())
    screen = wait_for(name, "PASSED")
    assert "N+1" not in screen

    tmux(name, "send-keys", "-t", name, "C-c")
    screen = wait_for(name, "Stopped watching.")
    assert "Traceback" not in screen
