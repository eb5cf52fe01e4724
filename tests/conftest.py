"""Shared fixtures: backends (SQLite always; PostgreSQL when reachable, required in CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from perfkata.grader.database import drop_schema, new_schema_name, worker_engine

pytest_plugins = ["pytester"]  # for the perfkata pytest plugin's own tests

REDIS_URL = os.environ.get("PERFKATA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_URL = os.environ.get("PERFKATA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("PERFKATA_REQUIRE_SERVICES") == "1"


def postgres_available() -> bool:
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def need_postgres() -> str:
    """The PostgreSQL URL; skip on a laptop without it, fail in CI where it is required."""
    if not postgres_available():
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at {PG_URL} is required (PERFKATA_REQUIRE_SERVICES=1)")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None means the embedded SQLite default."""
    return None if request.param == "sqlite" else need_postgres()


@pytest.fixture
def engine(db_url: str | None, tmp_path: Path) -> Iterator[Engine]:
    schema = new_schema_name() if db_url else None
    made = worker_engine(db_url, schema, tmp_path)
    yield made
    made.dispose()
    if db_url and schema:
        drop_schema(db_url, schema)


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except redis.RedisError:
        return False


def need_redis() -> str:
    """The Redis URL; skip on a laptop without it, fail in CI where it is required."""
    if not redis_available():
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis at {REDIS_URL} is required (PERFKATA_REQUIRE_SERVICES=1)")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture(params=["diskcache", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """None means the embedded diskcache default."""
    return None if request.param == "diskcache" else need_redis()


@pytest.fixture
def real_redis_url() -> str:
    """Redis itself (a test about Redis specifically): skipped or failed as need_redis says."""
    return need_redis()


@pytest.fixture
def real_postgres_url() -> str:
    """PostgreSQL itself: skipped or failed as need_postgres says."""
    return need_postgres()
