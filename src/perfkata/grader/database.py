"""Databases for graded runs: a fresh SQLite file by default, or a private schema on a
real PostgreSQL server, so parallel workers and repeated grades never share rows."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from perfkata.errors import ServiceFailed, ServiceUnavailable, UsageError
from perfkata.ownership import host_id

DB_URL_ENV = "PERFKATA_DB_URL"


SUPPORTED_DATABASES = (
    "perfkata grades on PostgreSQL (pass --db-url postgresql+psycopg://USER@HOST:5432/DB) "
    f"or on SQLite, the default when neither --db-url nor {DB_URL_ENV} is set"
)


def resolve_db_url(cli_value: str | None) -> str | None:
    """The real database asked for (flag first, then environment), or None for SQLite.
    Anything but PostgreSQL through psycopg is refused here, before a worker starts."""
    url = cli_value or os.environ.get(DB_URL_ENV) or None
    if url is not None:
        check_supported(url)
    return url


def check_supported(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"The database URL {url!r} is not a URL; {SUPPORTED_DATABASES}.") from None
    if (parsed.get_backend_name(), parsed.get_driver_name()) != ("postgresql", "psycopg"):
        raise UsageError(
            f"The database URL {safe_url(url)} is not supported: {SUPPORTED_DATABASES}."
        )


def safe_url(url: str) -> str:
    """The URL as it may be printed: password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def check_reachable(url: str) -> str:
    """Connect once and return the server version; a clear error names the URL if not."""
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UsageError(
            f"The database URL {safe_url(url)} is not valid ({exc}).",
            hint="Use e.g. postgresql+psycopg://user@127.0.0.1:5432/test, or unset "
            f"{DB_URL_ENV} to use SQLite.",
        ) from None
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("select version()")).scalar())
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ServiceUnavailable(
            f"Cannot connect to the database at {safe_url(url)}: {reason}.",
            hint=f"Start the server, fix the URL, or unset {DB_URL_ENV} to use SQLite.",
        ) from None
    finally:
        engine.dispose()


def new_schema_name() -> str:
    """perfkata_<owner pid>_<host id><id>: a grade whose perfkata was killed leaves a
    schema the next grade on the same host recognises as an orphan (grader/leftovers.py)."""
    return f"perfkata_{os.getpid()}_{host_id()}{uuid.uuid4().hex[:6]}"


def worker_engine(db_url: str | None, schema: str | None, scratch: Path) -> Engine:
    """The engine a worker uses: its own SQLite file, or its own PostgreSQL schema."""
    if db_url is None:
        engine = create_engine(f"sqlite:///{scratch / 'kata.sqlite3'}")
        event.listen(engine, "connect", _disposable_sqlite)
        return engine
    assert schema is not None
    admin = create_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    # As for SQLite: graded rows are scratch data, so commits need not wait for the disk.
    # The options travel in the URL, so a kata's own job processes can open the same schema.
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    return create_engine(make_url(db_url).update_query_dict({"options": options}))


def _disposable_sqlite(dbapi_connection: Any, record: Any) -> None:
    # The graded database is a scratch file: no fsync per commit, so a job's timing
    # measures its queries and batches rather than this machine's disk.
    dbapi_connection.execute("PRAGMA synchronous=OFF")


LOCKERS_ENDED = """
SELECT pg_terminate_backend(l.pid) FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()
"""


def drop_schema(db_url: str, schema: str) -> None:
    """Remove a worker's schema; run by the parent so a killed worker leaves nothing."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            # A killed worker's session may still be open (idle in transaction, through a
            # proxy not yet closed) and hold locks in the schema: the DROP would wait on it
            # for ever. The schema is this grade's alone, so its lockers are ended first.
            conn.execute(text(LOCKERS_ENDED), {"schema": schema})
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    except SQLAlchemyError:
        pass  # best effort: the server may have gone away; nothing of the learner's is lost
    finally:
        engine.dispose()


REDIS_URL_ENV = "PERFKATA_REDIS_URL"

# PostgreSQL SQLSTATE classes that mean the server or the connection went away, not a
# statement that failed: 08 connection exception, 57P0x shutdown / cannot connect now.
_SERVER_GONE = ("08", "57P01", "57P02", "57P03")


def service_failure(exc: BaseException) -> tuple[str, str] | None:
    """("Redis" | "PostgreSQL", reason) when `exc` (or what caused it) is a backend
    that stopped answering — a lost connection, a refused one, a server shut down — as
    opposed to an error in a statement or a command, which stays the learner's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(exc: BaseException) -> tuple[str, str] | None:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    module = type(exc).__module__
    if module.startswith("redis") and type(exc).__name__ in _REDIS_GONE:
        return "Redis", reason
    if module.startswith("dramatiq") and type(exc).__name__ in _BROKER_GONE:
        return "Redis", reason
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw a disconnect
        return "PostgreSQL", reason
    if module.startswith("psycopg") and _is_operational(exc):
        if _NO_NETWORK in reason:  # a worker has none: code that went around its URL
            return None
        state = getattr(exc, "sqlstate", None)
        if state is None or state.startswith(_SERVER_GONE):
            return "PostgreSQL", reason
    return None


# What a fenced worker's connect says when the code dialled a server's address itself
# instead of the URL it was given (its servers are reached through Unix sockets only).
_NO_NETWORK = "Network is unreachable"

# By name, so neither client library is imported for a grade that does not use it.
_REDIS_GONE = frozenset({"ConnectionError", "TimeoutError", "BusyLoadingError"})
_BROKER_GONE = frozenset({"ConnectionError", "ConnectionFailed", "ConnectionClosed"})


def _is_operational(exc: BaseException) -> bool:
    return any(kind.__name__ == "OperationalError" for kind in type(exc).__mro__)


def service_error_reply(exc: BaseException, backends: Any) -> dict[str, Any] | None:
    """The worker's error reply for a backend that failed, naming it and its URL; None
    when `exc` is something else. `backends` is the run's Backends (or None)."""
    failed = exc if isinstance(exc, ServiceFailed) else None
    found = (failed.service, failed.reason) if failed else service_failure(exc)
    if found is None:
        return None
    service, reason = found
    url = None
    if backends is not None:
        raw = backends.redis_url if service == "Redis" else backends.db_url
        url = (
            None if raw is None else (safe_redis_url(raw) if service == "Redis" else safe_url(raw))
        )
    return {"kind": "service", "service": service, "reason": reason, "url": url}


def resolve_redis_url(cli_value: str | None) -> str | None:
    """The Redis asked for (flag first, then environment), or None for the embedded store."""
    return cli_value or os.environ.get(REDIS_URL_ENV) or None


def safe_redis_url(url: str) -> str:
    return re.sub(r"//[^@/]*:[^@/]*@", "//***@", url)


def check_redis_reachable(url: str) -> str:
    """Ping once and return the server version; a clear error names the URL if not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        version = str(client.info("server").get("redis_version", "?"))
        client.close()
        return version
    except (redis.RedisError, ValueError) as exc:
        raise ServiceUnavailable(
            f"Cannot connect to Redis at {safe_redis_url(url)}: {exc}",
            hint=f"Start Redis, fix the URL, or unset {REDIS_URL_ENV} to use the embedded cache.",
        ) from None


class Snapshots:
    """Pristine copies of built datasets, restored in milliseconds instead of rebuilt:
    katas whose jobs delete rows start every run (memory pass, timing sample) afresh.
    SQLite copies the database file; PostgreSQL copies each table within its schema."""

    def __init__(self, engine: Engine, scratch: Path) -> None:
        self.engine = engine
        self.scratch = scratch
        self.taken: set[str] = set()

    def take(self, name: str, tables: list[Table]) -> None:
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()
            shutil.copyfile(self._file(), self.scratch / f"snapshot-{name}.sqlite3")
        else:
            with self.engine.begin() as conn:
                for table in tables:
                    snap = f"snap_{name}_{table.name}"
                    conn.execute(text(f'DROP TABLE IF EXISTS "{snap}"'))
                    conn.execute(text(f'CREATE TABLE "{snap}" AS TABLE "{table.name}"'))
        self.taken.add(name)

    def restore(self, name: str, tables: list[Table]) -> bool:
        """Put the snapshot back; False if there is none (build the data instead)."""
        if name not in self.taken:
            return False
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()
            shutil.copyfile(self.scratch / f"snapshot-{name}.sqlite3", self._file())
            return True
        with self.engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
            for table in tables:  # parents first
                conn.execute(
                    text(f'INSERT INTO "{table.name}" SELECT * FROM "snap_{name}_{table.name}"')
                )
        return True

    def _file(self) -> Path:
        return Path(str(self.engine.url.database))
