"""The parent's handle on one worker process: start it fenced in, talk JSON lines, and
end it — politely, or with SIGKILL when the learner's code runs out of time.

The fences: a timeout per request, an address-space limit, a process cap (not for root,
but for the fenced learner's own uid), its own process group (killed whole), an
environment stripped to what Python needs, a fixed PYTHONHASHSEED, stderr captured with
bounded memory (the learner's prints, and faulthandler's dump on timeout) — and the OS
fences of perfkata/fences.py, told here what the grader keeps secret and what Python must
read: with strict fences the process started is `unshare`, and the worker is its child,
pid 1 of a namespace of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfkata import fences
from perfkata.bench.sourceline import LearnerFiles
from perfkata.errors import InternalError, LearnerCodeError, ServiceFailed, TamperingDetected
from perfkata.fences import Fences
from perfkata.grader.capture import BoundedCapture
from perfkata.grader.counter_cache import cache_dir
from perfkata.grader.tamper import PREFIX, check_seal
from perfkata.isolation import worker_environment
from perfkata.katas.files import kata_files_root

DEFAULT_TIMEOUT = 120.0
DEFAULT_MEMORY_LIMIT = 2 * 1024**3
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_DUMP = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):$", re.M)
# Frames inside these mean the code was talking to its database or broker: progress.
_TALKING = ("/sqlalchemy/", "/sqlite3/", "/psycopg/", "/redis/", "/dramatiq/")


def still_working(stderr: str) -> bool:
    """From the last two faulthandler dumps: was the code talking to the database (or
    broker), or did its chain of calls change between them? A loop that never ends
    shows the same functions both times and no I/O."""
    dumps = _DUMP.split(stderr)[1:]
    if len(dumps) < 2:
        return False
    last = dumps[-2:]
    if any(
        part in match["file"]
        for dump in last
        for match in _FRAME.finditer(dump)
        for part in _TALKING
    ):
        return True
    calls = [[(m["file"], m["func"]) for m in _FRAME.finditer(dump)] for dump in last]
    return calls[0] != calls[1]


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _find_prctl() -> Callable[..., int] | None:
    """Looked up once in the parent: nothing is loaded between fork and exec."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the stdin-EOF exit still applies
        return None


_PRCTL = _find_prctl()


def die_with_parent(parent: int) -> None:
    """In a child before exec: the kernel SIGKILLs it when perfkata dies, even by
    SIGKILL, so no worker spins on under pid 1. If the parent is already gone, go too."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _fence(memory: int, processes: int | None, subreaper: bool = False) -> Callable[[], None]:
    """Run in the child before exec: an address-space limit and, where the kernel applies
    it (not to root), a cap on processes so a fork bomb fails instead of the machine;
    with basic fences, the child adopts its own orphans (see fences.kill_tree)."""
    parent = os.getpid()

    def apply() -> None:
        die_with_parent(parent)
        if subreaper:
            fences.become_subreaper(_PRCTL)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if processes is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
            cap = processes if hard == resource.RLIM_INFINITY else min(processes, hard)
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, hard))

    return apply


def process_cap(uid: int | None = None) -> int | None:
    """The user's processes now plus headroom for a kata's own (schedulers, job workers);
    for a fenced process's own unused uid, a fixed cap."""
    if uid is not None:
        return fences.NPROC_CAP
    if os.geteuid() == 0 or not os.path.isdir("/proc"):
        return None  # root ignores RLIMIT_NPROC; the process group is killed on timeout
    uid = os.geteuid()
    mine = sum(
        1 for entry in os.scandir("/proc") if entry.name.isdigit() and _owner(entry.path) == uid
    )
    return mine + 64


def _owner(path: str) -> int | None:
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


def python_paths(solution: Path) -> list[Path]:
    """What a worker's interpreter reads: its prefixes, its import path (perfkata, the
    site-packages) and the solution's folder — kept readable by the fenced uid."""
    found = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    found += [entry for entry in sys.path if entry and os.path.isdir(entry)]
    return [Path(p) for p in found] + [solution.parent]


def grader_secrets(solution: Path) -> list[Path]:
    """What no graded code may read: the reference solutions (unless it is one of them)
    and the counters cached from earlier grades' reference runs."""
    solutions = kata_files_root() / "solutions"
    secret = [cache_dir()]
    if not solution.resolve().is_relative_to(solutions.resolve()):
        secret.append(solutions)
    return secret


def scratch_folder(label: str, env: dict[str, str], strict: bool) -> tuple[Path, bool]:
    """A folder this process writes (its TMPDIR): with strict fences one of its own (its
    uid's alone) inside the grade's temp folder, removed with it; with basic ones the
    grade's folder itself, as before. Without a grade's folder, one the caller removes."""
    base = env.get("TMPDIR")
    if base and not strict:
        return Path(base), False
    # outside a grade's folder, named for this process: a later sweep removes it if the
    # process dies before removing it itself (grader/leftovers.py)
    prefix = f"{label}-" if base else f"perfkata-{os.getpid()}-{label}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base)), base is None


def launch(
    argv: list[str],
    label: str,
    solution: Path,
    fenced: Fences,
    memory_limit: int,
    extra_env: dict[str, str] | None,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], Path, bool, bool]:
    """Start `argv` behind the fences: (the launcher process, its scratch, whether the
    caller removes the scratch, whether it runs in namespaces — strict)."""
    scratch, owned = scratch_folder(label, extra_env or {}, fences.mode() == "strict")
    plan = Fences(
        writable=[scratch, *fenced.writable],
        hidden=[*grader_secrets(solution), *fenced.hidden],
        readable=[*python_paths(solution), *fenced.readable],
        network=fenced.network,
        sockets=fenced.sockets,
    )
    cmd, uid, strict = fences.command(argv, plan)
    env = worker_environment(os.environ) | (extra_env or {})
    env["TMPDIR"] = str(scratch)
    if strict:  # its uid can neither read nor write the real home
        env["HOME"] = str(scratch)
    proc = subprocess.Popen(
        cmd,
        env=env,
        preexec_fn=_fence(memory_limit, process_cap(uid), subreaper=not strict),
        start_new_session=True,  # its own process group: killed whole, forks included
        **popen,
    )
    return proc, scratch, owned, strict


def end_tree(proc: subprocess.Popen[bytes], strict: bool) -> None:
    """SIGKILL the fenced process and all it started. Strict: kill the namespace's pid 1
    and wait for its launcher, which returns only once the kernel emptied the namespace.
    Basic: the adopted descendants first, then the process group."""
    # Once reaped its pid may be another process's: only its group (a pid is never reused
    # while a group of that id lives) is still safe to kill.
    if proc.poll() is None:
        inner = fences.fenced_pid(proc.pid) if strict else proc.pid
        if inner != proc.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(inner, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        else:
            fences.kill_tree(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class WorkerProcess:
    def __init__(
        self,
        label: str,
        who: str,
        solution: Path,
        *,
        timeout: float,
        memory_limit: int,
        extra_env: dict[str, str] | None = None,  # the owner tag, a TMPDIR of the grade's
        fenced: Fences | None = None,  # what the grader hides from this worker
    ) -> None:
        self.label = label  # "starter", "learner", "reference"
        self.who = who  # how messages name it: "Your code", "The starter"
        self.solution = solution
        self.timeout = timeout
        self._proc, self._scratch, self._owns_scratch, self._strict = launch(
            [sys.executable, "-m", "perfkata.grader.worker"],
            label,
            solution,
            fenced or Fences(),
            memory_limit,
            extra_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # drained with bounded memory (grader/capture.py)
        )
        assert self._proc.stderr is not None
        self._stderr = BoundedCapture(self._proc.stderr)
        self._selector = selectors.DefaultSelector()
        assert self._proc.stdout is not None
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._pending = 0  # requests sent and not yet answered
        self._exiting = False  # "exit" sent: only its end is awaited
        self._closed = False

    @property
    def scratch(self) -> Path:
        """The folder the worker may write (its TMPDIR): its SQLite database lies in it."""
        return self._scratch

    def send(self, request: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write((json.dumps(request) + "\n").encode())
            self._proc.stdin.flush()
            self._pending += 1
        except BrokenPipeError:
            self._raise_died()

    def receive(self, timeout: float | None = None) -> Any:
        """The next reply's result; errors become LearnerCodeError or InternalError."""
        reply = json.loads(self._read_line(self.timeout if timeout is None else timeout))
        self._pending -= 1
        check_seal(reply)  # a line the learner's code wrote into the pipe: tampering
        if reply["ok"]:
            return reply["result"]
        error = reply["error"]
        if error["kind"] == "service":  # PostgreSQL or Redis went away mid-grade
            raise ServiceFailed(error["service"], error["reason"], error["url"])
        if error["kind"] == "learner":
            # The code tampered, then failed (a forged request it could not find, say):
            # the tampering is what the learner must hear, and it fails the kata.
            failure = TamperingDetected if reply.get("tampering") else LearnerCodeError
            message = error["message"]
            if reply.get("tampering"):
                message = f"{PREFIX}{reply['tampering'][0]}; then: {message}"
            raise failure(
                message,
                file=error["file"],
                line=error["line"],
                hint=error["hint"],
                details=error["details"],
            )
        raise InternalError(
            f"the {self.label} worker failed inside perfkata: {error['message']}",
            hint="This is a perfkata bug; run with --debug and report it.",
            details=error["details"],
        )

    def call(self, request: dict[str, Any], timeout: float | None = None) -> Any:
        self.send(request)
        return self.receive(timeout)

    def _read_line(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                self._raise_timeout(timeout)
            assert self._proc.stdout is not None
            chunk = os.read(self._proc.stdout.fileno(), 1 << 16)
            if not chunk:
                self._raise_died()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def stderr_text(self) -> str:
        return self._stderr.text()

    def _raise_timeout(self, timeout: float) -> None:
        # Ask faulthandler (installed in the worker) for two dumps of every thread's stack
        # a moment apart, then kill: where it was, and whether it was still moving.
        if self._proc.poll() is None:
            # the worker, not its launcher
            inner = fences.fenced_pid(self._proc.pid) if self._strict else self._proc.pid
            for _ in range(2):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(inner, signal.SIGUSR1)
                time.sleep(0.3)
        self.kill()
        where = self._stuck_at()
        at = f" It was running {where[0]}:{where[1]} (in {where[2]})." if where else ""
        size = self._working_size()
        if still_working(self.stderr_text()):
            n = f" at N={size}" if size else ""
            raise LearnerCodeError(
                f"{self.who} did not finish within {timeout:g} s{n}: too slow for the timeout"
                f"{n}, not stuck — it was still working (issuing SQL statements, or moving "
                f"from call to call).{at}",
                file=where[3] if where else None,
                line=where[1] if where else None,
                hint="Make it faster at this size (the counted checks say where the time "
                "goes), or raise the limit with --timeout.",
            )
        raise LearnerCodeError(
            f"{self.who} did not finish within {timeout:g} s.{at}",
            file=where[3] if where else None,
            line=where[1] if where else None,
            hint="Look for a loop that never ends, or raise the limit with --timeout.",
        )

    def _working_size(self) -> str | None:
        """The dataset size the worker said it was at (a line it writes to stderr)."""
        return self._stderr.last_size

    def _stuck_at(self) -> tuple[str, int, str, str] | None:
        files = LearnerFiles([str(self.solution)])
        for match in _FRAME.finditer(self.stderr_text()):  # innermost frame first
            if match["file"] in files:
                path = match["file"]
                return os.path.basename(path), int(match["line"]), match["func"], path
        return None

    def _raise_died(self) -> None:
        code = self._proc.wait(timeout=5)
        self._stderr.settle()  # its last words are still in the pipe
        if "perfkata fences:" in self.stderr_text():
            raise InternalError(
                f"the {self.label} worker could not be fenced in: "
                f"{self.stderr_text().strip().splitlines()[-1]}",
                hint=f"Grade with {fences.MODE_ENV}=basic to go on without the fences, "
                "and report this with --debug output.",
                details=self.stderr_text(),
            )
        reason = f"signal {-code}" if code < 0 else f"exit code {code}"
        tail = self.stderr_text().strip().splitlines()[-1:] or [""]
        if "MemoryError" in tail[0] or code == -signal.SIGKILL:
            reason += ", probably out of memory"
        raise LearnerCodeError(
            f"{self.who} ended its process ({reason}) before answering.",
            file=str(self.solution),
            hint="Do not call os._exit() or exit the interpreter; return the result instead.",
            details=self.stderr_text(),
        )

    def running(self) -> bool:
        """Its process has not ended (a spare that died while waiting is never used)."""
        return self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and whatever it started (a kata's job processes, forks)."""
        end_tree(self._proc, self._strict)
        self._stderr.settle()  # a stack dump just asked for is still in the pipe

    def ask_to_exit(self) -> None:
        """Send "exit" and go on: a pool asks all its workers first, so they end side by
        side and each close() only waits (a worker's own shut-down is ~0.1 s)."""
        # basic fences: the orphans it adopted go before it does, or they go to pid 1
        if not self._strict and self._proc.poll() is None:
            fences.kill_tree(self._proc.pid)
        # A worker still busy with a request (the grade ended early, on the learner's
        # error) would only read "exit" after it: close() kills it rather than wait.
        if self._proc.poll() is None and not self._pending and not self._exiting:
            try:
                self.send({"op": "exit"})
                self._exiting = True
            except LearnerCodeError:
                pass

    def close(self) -> None:
        if self._closed:  # a spare's pool and the grade that took it may both close it
            return
        self._closed = True
        self.ask_to_exit()
        if self._exiting:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        self.kill()
        self._selector.close()
        self._stderr.close()
        for stream in (self._proc.stdin, self._proc.stdout):
            # a request that met a dead worker is still in stdin's buffer: closing flushes
            # it again into the broken pipe (the pipe is closed all the same)
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        if self._owns_scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


def ask_all_to_exit(workers: list[WorkerProcess]) -> None:
    """Every worker told to exit before any is waited for: they shut down side by side."""
    for worker in workers:
        worker.ask_to_exit()
