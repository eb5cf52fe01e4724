"""`perfkata doctor`: what this machine offers perfkata, each finding one line with the
exact error when something is wrong, so a learner can fix it before grading."""

from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
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


def postgres_finding() -> Finding:
    url = os.environ.get(DB_URL_ENV)
    if not url:
        return Finding("PostgreSQL", "not set", f"set {DB_URL_ENV} to grade on PostgreSQL")
    try:
        server = check_reachable(url)
    except PerfkataError as exc:
        return Finding("PostgreSQL", "ERROR", exc.message)
    return Finding("PostgreSQL", "ok", f"{safe_url(url)}: {server.split(' on ')[0]}")


def redis_finding() -> Finding:
    url = os.environ.get(REDIS_URL_ENV)
    if not url:
        return Finding("Redis", "not set", f"set {REDIS_URL_ENV} to cache on Redis")
    try:
        version = check_redis_reachable(url)
    except PerfkataError as exc:
        return Finding("Redis", "ERROR", exc.message)
    return Finding("Redis", "ok", f"{safe_redis_url(url)}: Redis {version}")


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
