"""Cleaning up after grades, including grades whose perfkata was killed.

Clean-up cannot depend on the process being cleaned up surviving (SIGKILL, a CI job's
timeout): every resource carries its owner's tag (perfkata.ownership), and each grade
first sweeps what belongs to owners that no longer exist — PostgreSQL schemas
`perfkata_<pid>_…`, Redis keys `perfkata:<pid>_…` / `perfkata-run-<pid>_…`, temp
folders `perfkata-<pid>-…`, and processes whose environment names a dead owner. A grade
that ends, however it ends short of SIGKILL, removes its own at once (`remove_own`).
Everything here is best effort: a sweep never fails a grade.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from perfkata.ownership import OWNER_ENV, alive, host_id, new_owner_tag, owner_pid

TEMP_PREFIX = "perfkata-"
_TEMP_OWNED = re.compile(r"^perfkata-(\d+)-")
_SCHEMA_OWNED = re.compile(r"^perfkata_(\d+)_([0-9a-f]{6})")
_KEY_PATTERNS = ("perfkata:*", "perfkata-run-*")
_KEY_OWNED = re.compile(r"^perfkata(?::|-run-)(\d+)_([0-9a-f]{6})")
LEGACY_TEMP_AGE = 24 * 3600  # unowned perfkata-* folders of older versions: after a day


def temp_folder(tag: str) -> Path:
    """A grade's temp folder (TMPDIR of its workers), named for its owner."""
    pid = owner_pid(tag)
    prefix = f"{TEMP_PREFIX}{pid}-{tag.split('_', 1)[1]}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=temp_root()))


def temp_root() -> Path:
    """Where workers would put temp files: $TMPDIR as it is now (tempfile caches the
    first answer), else the system's."""
    return Path(os.environ.get("TMPDIR") or tempfile.gettempdir())


def sweep(db_url: str | None, redis_url: str | None) -> None:
    """Remove what grades whose owner died left behind; never raises."""
    for step in (sweep_processes, sweep_temp):
        with contextlib.suppress(Exception):
            step()
    if db_url:
        with contextlib.suppress(Exception):
            sweep_schemas(db_url)
    if redis_url:
        with contextlib.suppress(Exception):
            sweep_redis(redis_url, lambda pid: not alive(pid))


def remove_own(tag: str, redis_url: str | None) -> None:
    """At the end of a grade: its Redis keys (a killed worker could not delete them)."""
    if redis_url:
        with contextlib.suppress(Exception):
            sweep_redis(redis_url, lambda pid: False, only=tag)


def dead_owner(name: str, pattern: re.Pattern[str]) -> bool:
    """Made on this host (another machine's pids mean nothing here) by a dead process."""
    found = pattern.match(name)
    return found is not None and found[2] == host_id() and not alive(int(found[1]))


def sweep_temp(root: Path | None = None) -> None:
    folder = root or temp_root()
    for entry in folder.glob(f"{TEMP_PREFIX}*"):
        if not entry.is_dir() or entry.is_symlink():
            continue
        owned = _TEMP_OWNED.match(entry.name)
        legacy = owned is None and time.time() - entry.stat().st_mtime > LEGACY_TEMP_AGE
        if legacy or (owned is not None and not alive(int(owned[1]))):
            shutil.rmtree(entry, ignore_errors=True)


def sweep_schemas(db_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT schema_name FROM information_schema.schemata "
                    "WHERE schema_name LIKE 'perfkata\\_%'"
                )
            ).scalars()
            doomed = [n for n in names if dead_owner(n, _SCHEMA_OWNED)]
        for name in doomed:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        engine.dispose()


def sweep_redis(redis_url: str, owner_dead: object, only: str | None = None) -> None:
    """Delete keys of dead owners (or, with `only`, of that one grade) with SCAN: never
    KEYS, never FLUSHDB — the database may be shared."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        for pattern in _KEY_PATTERNS:
            batch = []
            for raw in client.scan_iter(match=pattern, count=1000):
                key = raw.decode(errors="replace")
                if _doomed_key(key, owner_dead, only):
                    batch.append(raw)
                    if ":learner-keys:" in key:  # keys the learner named, listed
                        batch.extend(client.smembers(raw))
                if len(batch) >= 500:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
    finally:
        client.close()


def _doomed_key(key: str, owner_dead: object, only: str | None) -> bool:
    if only is not None:
        return key.startswith((f"perfkata:{only}_", f"perfkata-run-{only}_"))
    found = _KEY_OWNED.match(key)
    if found is None or found[2] != host_id():
        return False
    return callable(owner_dead) and bool(owner_dead(int(found[1])))


def sweep_processes() -> None:
    """SIGKILL processes started for a grade whose perfkata is gone: a kata's job
    processes outlive a worker killed by PR_SET_PDEATHSIG. Found by the owner tag in
    their environment, never by name."""
    me = os.getpid()
    for pid, tag in tagged_processes():
        owner = owner_pid(tag)
        if pid != me and owner is not None and not alive(owner):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def tagged_processes() -> Iterator[tuple[int, str]]:
    marker = f"{OWNER_ENV}=".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(marker):
                yield int(entry.name), item[len(marker) :].decode(errors="replace")
                break


@contextmanager
def owned_by_this_grade(db_url: str | None, redis_url: str | None) -> Iterator[dict[str, str]]:
    """Around one grade's workers: sweep dead owners' leftovers first, give the grade an
    owner tag and a temp folder (the workers' environment: GRADE_OWNER, TMPDIR), and
    remove both the folder and the grade's Redis keys when it ends."""
    sweep(db_url, redis_url)
    tag = new_owner_tag()
    folder = temp_folder(tag)
    try:
        yield {OWNER_ENV: tag, "TMPDIR": str(folder)}
    finally:
        remove_own(tag, redis_url)
        shutil.rmtree(folder, ignore_errors=True)
