"""Jobs on RedisBroker: two worker processes of the kata's runner consume the queues;
one is SIGKILLed mid-chain, once a message of its stored a photo and before that message
was acked or its chain's next stage sent. dramatiq hands the message to the other
process (heartbeat timeout, then queue maintenance), and the learner's pipeline must
neither lose that image nor store it twice, and still email its album exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from perfkata import isolation
from perfkata.katas.base import RunEnv

if TYPE_CHECKING:
    from perfkata.katas.image_pipeline.workload import Run

PROCESSES = 2
THREADS_PER_PROCESS = 2
KILL_AFTER_PHOTOS = 3  # the victim dies holding the message that stored its third photo


def run_worker_processes(run: Run, env: RunEnv, wait: Callable[[], bool]) -> bool:
    assert run.redis is not None
    config = {
        "module": run.module_file,
        "db_url": env.engine.url.render_as_string(hide_password=False),
        "redis": run.redis,
        "prefix": run.prefix,
        "plan": run.plan.as_dict(),
        "threads": THREADS_PER_PROCESS,
        "forbidden": isolation.FORBIDDEN,
    }
    processes = [spawn(config, victim=index == 0) for index in range(PROCESSES)]
    try:
        kill_victim(run, processes[0])
        return wait()
    finally:
        for process in processes:
            stop(process)


def spawn(config: dict[str, Any], victim: bool) -> subprocess.Popen[bytes]:
    argument = json.dumps({**config, "kill_after": KILL_AFTER_PHOTOS if victim else 0})
    return subprocess.Popen(
        [sys.executable, "-m", "perfkata.katas.image_pipeline.runner", argument],
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,  # the worker's stdout is its protocol pipe: keep it clean
    )


def kill_victim(run: Run, victim: subprocess.Popen[bytes], wait: float = 20.0) -> None:
    """SIGKILL once the victim says it is holding the message that stored a photo."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and victim.poll() is None:
        if run.tally.get("victim-holding") is not None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            run.tally.incr("killed")
            return
        if not run.actors:  # nothing will ever be consumed: no one to kill
            return
        time.sleep(0.01)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
