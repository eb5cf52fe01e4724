"""Jobs on RedisBroker: two worker processes of the kata's runner consume the queues;
one is killed with SIGKILL right after it stored a file, before it could ack — dramatiq
must hand that message to the other (heartbeat timeout, then queue maintenance), and
the learner's job must not upload the file twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from perfkata import isolation
from perfkata.katas.base import RunEnv
from perfkata.katas.report_worker.workload import JOIN_TIMEOUT_S, Run, join_all

PROCESSES = 2
THREADS_PER_PROCESS = 2
KILL_AFTER_UPLOADS = 5  # the victim is killed after its fifth stored file


def run_worker_processes(run: Run, env: RunEnv) -> bool:
    assert run.redis is not None
    config = {
        "module": str(run.module_file),
        "db_url": env.engine.url.render_as_string(hide_password=False),
        "redis": run.redis,
        "prefix": run.prefix,
        "plan": run.plan_as_dict(),
        "threads": THREADS_PER_PROCESS,
        "latency": run.storage.latency,
        "forbidden": isolation.FORBIDDEN,  # what the grader told its worker to fence
    }
    processes = [spawn(config, victim=index == 0) for index in range(PROCESSES)]
    try:
        kill_victim(run, processes[0])
        return join_all(run.broker, JOIN_TIMEOUT_S)
    finally:
        for process in processes:
            stop(process)


def spawn(config: dict[str, Any], victim: bool) -> subprocess.Popen[bytes]:
    argument = json.dumps({**config, "kill_after": KILL_AFTER_UPLOADS if victim else 0})
    return subprocess.Popen(
        [sys.executable, "-m", "perfkata.katas.report_worker.runner", argument],
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr,  # the worker's stdout is its protocol pipe: keep it clean
    )


def kill_victim(run: Run, victim: subprocess.Popen[bytes], wait: float = 20.0) -> None:
    """SIGKILL once the victim says it stored a file and is holding its message."""
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
