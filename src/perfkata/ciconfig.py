"""`perfkata ci init`: the CI configuration an instructor commits to a learners'
repository — a GitHub Actions workflow (annotations at the learner's lines) and a GitLab
CI job (a JUnit report) — that install perfkata, start the services the chosen backends
need, and grade every started kata. Plain text templates: no YAML library at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from perfkata.errors import UsageError

GITHUB_PATH = Path(".github/workflows/perfkata.yml")
GITLAB_PATH = Path(".gitlab-ci.perfkata.yml")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GITLAB_PG_URL = "postgresql+psycopg://postgres@postgres:5432/test"


@dataclass(frozen=True)
class CiChoice:
    package: str  # what pip installs: "perfkata==1.2", a git URL or an archive URL
    postgres: bool
    redis: bool
    timeout: int


def grade_command(output_format: str, output: str | None = None) -> str:
    command = f"perfkata grade --all --format {output_format}"
    return command + (f" --output {output}" if output else "")


def github_workflow(choice: CiChoice) -> str:
    services, env = [], [f"      PERFKATA_PACKAGE: {quoted(choice.package)}"]
    if choice.postgres:
        services += [
            "      postgres:",
            "        image: postgres:16",
            "        env:",
            "          POSTGRES_HOST_AUTH_METHOD: trust",
            "          POSTGRES_DB: test",
            "        ports: ['5432:5432']",
            "        options: >-",
            "          --health-cmd pg_isready --health-interval 5s --health-retries 12",
        ]
        env.append(f"      PERFKATA_DB_URL: {quoted(PG_URL)}")
    if choice.redis:
        services += [
            "      redis:",
            "        image: redis:7",
            "        ports: ['6379:6379']",
            "        options: >-",
            "          --health-cmd 'redis-cli ping' --health-interval 5s --health-retries 12",
        ]
        env.append(f"      PERFKATA_REDIS_URL: {quoted('redis://127.0.0.1:6379/0')}")
    lines = [
        "# Written by `perfkata ci init`: grades every kata started in perfkata-work/.",
        "name: perfkata",
        "on: [push, pull_request]",
        "jobs:",
        "  grade:",
        "    runs-on: ubuntu-latest",
        f"    timeout-minutes: {choice.timeout}",
        *(["    services:", *services] if services else []),
        "    env:",
        *env,
        "    steps:",
        "      - uses: actions/checkout@v4",
        "      - uses: actions/setup-python@v5",
        "        with:",
        "          python-version: '3.11'",
        "      - name: Install perfkata",
        '        run: pip install "$PERFKATA_PACKAGE"',
        "      - name: Grade (annotations at the learner's lines)",
        f"        run: {grade_command('github')}",
    ]
    return "\n".join(lines) + "\n"


def gitlab_job(choice: CiChoice) -> str:
    services = (["    - postgres:16"] if choice.postgres else []) + (
        ["    - redis:7"] if choice.redis else []
    )
    variables = [f"    PERFKATA_PACKAGE: {quoted(choice.package)}"]
    if choice.postgres:
        variables += [
            "    POSTGRES_HOST_AUTH_METHOD: trust",
            "    POSTGRES_DB: test",
            f"    PERFKATA_DB_URL: {quoted(GITLAB_PG_URL)}",
        ]
    if choice.redis:
        variables.append(f"    PERFKATA_REDIS_URL: {quoted('redis://redis:6379/0')}")
    lines = [
        "# Written by `perfkata ci init`: include it from .gitlab-ci.yml",
        "# (include: local: .gitlab-ci.perfkata.yml).",
        "perfkata:",
        "  image: python:3.11",
        f"  timeout: {choice.timeout} minutes",
        *(["  services:", *services] if services else []),
        "  variables:",
        *variables,
        "  script:",
        '    - pip install "$PERFKATA_PACKAGE"',
        f"    - {grade_command('junit', 'perfkata-results.xml')}",
        "  artifacts:",
        "    when: always",
        "    reports:",
        "      junit: perfkata-results.xml",
    ]
    return "\n".join(lines) + "\n"


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def write_ci_files(root: Path, choice: CiChoice, force: bool) -> list[Path]:
    """Write both files under `root`; an existing file is kept unless `force`."""
    files = {GITHUB_PATH: github_workflow(choice), GITLAB_PATH: gitlab_job(choice)}
    existing = [root / p for p in files if (root / p).exists()]
    if existing and not force:
        raise UsageError(
            f"{existing[0]} already exists; nothing was written.",
            hint="Pass --force to replace it (commit or back it up first).",
        )
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def installed_package() -> str:
    """What CI should pip-install to get the perfkata running here, from the record pip
    keeps of where it came from (PEP 610's direct_url.json)."""
    try:
        dist = distribution("perfkata")
    except PackageNotFoundError:
        raise no_reachable_source("perfkata's install record is missing") from None
    return package_from_direct_url(dist.read_text("direct_url.json"), dist.version)


def package_from_direct_url(record: str | None, version: str) -> str:
    """A pip requirement CI can install: a git URL pinned at the installed commit, a
    remote archive, or the published version; never a path on this machine."""
    if record is None:  # installed from an index: pin what is here
        return f"perfkata=={version}"
    info: dict[str, Any] = json.loads(record)
    url = str(info.get("url", ""))
    if url.startswith("file:"):
        raise no_reachable_source(f"perfkata was installed from {url[len('file://') :]}")
    subdirectory = info.get("subdirectory")
    suffix = f"#subdirectory={subdirectory}" if subdirectory else ""
    vcs = info.get("vcs_info")
    if vcs:
        return f"{vcs['vcs']}+{url}@{vcs['commit_id']}{suffix}"
    return url + suffix


def no_reachable_source(why: str) -> UsageError:
    return UsageError(
        f"{why}, which a CI runner cannot reach, so no workflow was written.",
        hint="Pass --package with what CI should install: a git URL "
        "(git+https://host/you/perfkata@COMMIT), an archive URL, or a published "
        "version (perfkata==1.0).",
    )
