"""`perfkata doctor`: what this machine offers perfkata, each finding one line with the
exact error when something is wrong, so a learner can fix it before grading."""

from __future__ import annotations

import os
import platform
import socket
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from perfkata import fences
from perfkata.errors import PerfkataError
from perfkata.grader.database import (
    DB_URL_ENV,
    REDIS_URL_ENV,
    check_reachable,
    check_redis_reachable,
    safe_redis_url,
    safe_url,
)
from perfkata.workspace import Workspace

LOCAL_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

PACKAGES = (
    "perfkata",
    "SQLAlchemy",
    "psycopg",
    "redis",
    "diskcache",
    "dramatiq",
    "croniter",
    "pyinstrument",
    "memray",
    "typer",
    "rich",
    "watchfiles",
)


@dataclass(frozen=True)
class Finding:
    area: str
    status: str  # "ok", "found" (running locally, not used yet), "not set", "—", "ERROR"
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "ERROR"


def package_findings() -> list[Finding]:
    found = [Finding("Python", "ok", f"{platform.python_version()} ({platform.machine()})")]
    for name in PACKAGES:
        try:
            found.append(Finding(name, "ok", version(name)))
        except PackageNotFoundError:
            found.append(Finding(name, "ERROR", "not installed: run `pip install perfkata`"))
    return found


def sqlite_finding() -> Finding:
    with tempfile.TemporaryDirectory() as folder:
        try:
            sqlite3.connect(os.path.join(folder, "probe.sqlite3")).execute("select 1").close()
        except sqlite3.Error as exc:
            return Finding("SQLite", "ERROR", f"cannot open a database in {folder}: {exc}")
    return Finding("SQLite", "ok", f"{sqlite3.sqlite_version} (the default database)")


@dataclass(frozen=True)
class Server:
    """A backend doctor looks for: where it usually runs locally, and how perfkata uses it."""

    area: str
    env: str
    flag: str
    local: str  # the URL tried when nothing is configured and the usual port answers
    purpose: str
    check: Callable[[str], str]
    describe: Callable[[str], str]  # the server's answer to check, as one short phrase
    safe: Callable[[str], str]


POSTGRES = Server(
    "PostgreSQL",
    DB_URL_ENV,
    "--db-url",
    LOCAL_PG_URL,
    "grade on it",
    check_reachable,
    lambda version: version.split(" on ")[0],
    safe_url,
)
REDIS = Server(
    "Redis",
    REDIS_URL_ENV,
    "--redis-url",
    LOCAL_REDIS_URL,
    "cache and queue jobs on it",
    check_redis_reachable,
    lambda version: f"Redis {version}",
    safe_redis_url,
)


def server_findings(server: Server, given: str | None) -> list[Finding]:
    """The configured server (the flag, else the environment variable), then the usual
    local port when that is another place: what answers there and how to use it."""
    url = given or os.environ.get(server.env)
    found = [configured_finding(server, url)] if url else []
    host_port = address(server.local)
    if not url or address(url) != host_port:
        found.append(local_finding(server, url is not None))
    return found


def configured_finding(server: Server, url: str) -> Finding:
    try:
        answer = server.check(url)
    except PerfkataError as exc:
        return Finding(server.area, "ERROR", exc.message)
    return Finding(server.area, "ok", f"{server.safe(url)}: {server.describe(answer)}")


def local_finding(server: Server, configured: bool) -> Finding:
    host, port = address(server.local)
    where = f"{host}:{port}"
    how = f"set {server.flag} or {server.env} to {server.purpose}"
    if not port_open(host, port):
        status = "—" if configured else "not set"
        return Finding(server.area, status, f"nothing listens at {where}; {how}")
    try:
        answer = server.check(server.local)
    except PerfkataError as exc:
        return Finding(
            server.area,
            "found",
            f"something listens at {where}, but {server.safe(server.local)} failed "
            f"({exc.message}); pass {server.flag} with your user and database",
        )
    return Finding(
        server.area,
        "found",
        f"{server.describe(answer)} is running at {where} — {server.purpose} with "
        f"{server.flag} {server.local}",
    )


def address(url: str) -> tuple[str, int]:
    parsed = urlsplit(url)
    default = 5432 if parsed.scheme.startswith("postgres") else 6379
    return parsed.hostname or "127.0.0.1", parsed.port or default


def port_open(host: str, port: int) -> bool:
    """A TCP connect first: a closed port answers at once, a driver may wait longer."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def workspace_findings(workspace: Workspace) -> list[Finding]:
    if not workspace.root.exists():
        return [Finding("workspace", "not set", f"{workspace.root} (created by `perfkata start`)")]
    state = workspace.load_state()
    found = [Finding("workspace", "ok", str(workspace.root))]
    for warning in workspace.warnings:
        found.append(Finding("state file", "ERROR", warning))
    if not workspace.warnings:
        started = sum(1 for p in state.katas.values() if p.status != "not started")
        found.append(Finding("state file", "ok", f"{workspace.state_path} ({started} started)"))
    return found


def diagnose(
    workspace: Workspace, db_url: str | None = None, redis_url: str | None = None
) -> list[Finding]:
    return [
        *package_findings(),
        sqlite_finding(),
        Finding("Fences", "ok" if fences.mode() == "strict" else "—", fences.describe()),
        *server_findings(POSTGRES, db_url),
        *server_findings(REDIS, redis_url),
        *workspace_findings(workspace),
    ]
