"""`perfkata doctor`: what this machine offers perfkata, each finding one line with the
exact error when something is wrong, so a learner can fix it before grading."""

from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

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
    status: str  # "ok", "not set", "ERROR"
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


def server_finding(
    area: str,
    env: str,
    purpose: str,
    check: Callable[[str], str],
    describe: Callable[[str, str], str],
) -> Finding:
    """A real backend named by an environment variable: not set, unreachable, or its version."""
    url = os.environ.get(env)
    if not url:
        return Finding(area, "not set", f"set {env} to {purpose}")
    try:
        found = check(url)
    except PerfkataError as exc:
        return Finding(area, "ERROR", exc.message)
    return Finding(area, "ok", describe(url, found))


def postgres_finding() -> Finding:
    return server_finding(
        "PostgreSQL",
        DB_URL_ENV,
        "grade on PostgreSQL",
        check_reachable,
        lambda url, server: f"{safe_url(url)}: {server.split(' on ')[0]}",
    )


def redis_finding() -> Finding:
    return server_finding(
        "Redis",
        REDIS_URL_ENV,
        "cache on Redis",
        check_redis_reachable,
        lambda url, version: f"{safe_redis_url(url)}: Redis {version}",
    )


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


def diagnose(workspace: Workspace) -> list[Finding]:
    return [
        *package_findings(),
        sqlite_finding(),
        postgres_finding(),
        redis_finding(),
        *workspace_findings(workspace),
    ]
