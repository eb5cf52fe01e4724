"""The parent's counting proxies count exactly what a client sends its server.

Given a PostgreSQL (or Redis) proxy in a temp folder, when a client runs a known
workload through it, then the statements (commands) counted are exactly the workload's.
Mutations tried, each failing a test here: counting 'Q' only (the extended protocol's
'E' missed), forwarding the SSLRequest instead of answering it (the parser's test),
ignoring 'P' (prepared statements' text lost), matching set-up queries by prefix,
ignoring inline commands, not skipping a long bulk string (a 200 KB value)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkata.grader.proxy import PgCounter, Tally, WorkerProxies, difference

N = 12  # posts in the N+1: above psycopg's prepare threshold (5), so prepared runs count too


@pytest.fixture
def pg_proxies(real_postgres_url: str, tmp_path: Path) -> Iterator[WorkerProxies]:
    proxies = WorkerProxies(tmp_path / "sockets", real_postgres_url, None)
    yield proxies
    proxies.close()


@pytest.fixture
def redis_proxies(real_redis_url: str, tmp_path: Path) -> Iterator[WorkerProxies]:
    proxies = WorkerProxies(tmp_path / "sockets", None, real_redis_url)
    yield proxies
    proxies.close()


def psycopg_connect(proxies: WorkerProxies, sslmode: str = "disable"):  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(proxies.db_url or "")
    return psycopg.connect(
        host=str(proxies.folder),
        port=int(str(url.query["port"])),
        user=url.username,
        password=url.password,
        dbname=url.database,
        sslmode=sslmode,
    )


@pytest.mark.parametrize("sslmode", ["disable", "prefer"])
def test_an_n_plus_one_over_psycopg_counts_one_plus_n(
    pg_proxies: WorkerProxies, sslmode: str
) -> None:
    with psycopg_connect(pg_proxies, sslmode) as conn:
        before = pg_proxies.counts()
        ids = [row[0] for row in conn.execute("SELECT id FROM generate_series(1, %s) AS id", (N,))]
        for post_id in ids:  # the "+ N": the same statement, prepared after five runs
            conn.execute("SELECT %s::int * 2", (post_id,)).fetchone()
        conn.execute("SELECT 1; SELECT 2")  # one simple query, two statements: one message
        conn.commit()
        counted = difference(pg_proxies.counts(), before)["postgresql"]
    assert counted["statements"] == 1 + N + 1
    assert counted["transaction"] == 2  # psycopg's BEGIN and the COMMIT: kept apart


def test_executemany_counts_each_parameter_set(pg_proxies: WorkerProxies) -> None:
    with psycopg_connect(pg_proxies) as conn:
        conn.execute("CREATE TEMP TABLE pk_proxy_rows (n int)")
        before = pg_proxies.counts()
        conn.cursor().executemany("INSERT INTO pk_proxy_rows VALUES (%s)", [(i,) for i in range(7)])
        counted = difference(pg_proxies.counts(), before)["postgresql"]
    assert counted["statements"] == 7


def test_a_query_cannot_pass_as_connection_set_up(pg_proxies: WorkerProxies) -> None:
    """Set-up statements are recognised whole: a SELECT that starts like one is counted."""
    with psycopg_connect(pg_proxies) as conn:
        before = pg_proxies.counts()
        conn.execute("select pg_catalog.version(), (select 1)").fetchone()
        conn.execute("SHOW server_version").fetchone()
        counted = difference(pg_proxies.counts(), before)["postgresql"]
    assert (counted["statements"], counted["setup"]) == (1, 1)


def test_redis_commands_are_counted_by_name(redis_proxies: WorkerProxies) -> None:
    import redis

    client = redis.Redis.from_url(redis_proxies.redis_url or "")
    try:
        client.ping()  # the connection's handshake (HELLO, CLIENT …) happens here
        before = redis_proxies.counts()
        client.set("perfkata:proxytest:big", b"x" * 200_000)  # spans many reads
        client.get("perfkata:proxytest:big")
        for _ in range(3):
            client.incr("perfkata:proxytest:n")
        pipe = client.pipeline()
        pipe.get("perfkata:proxytest:n")
        pipe.delete("perfkata:proxytest:big", "perfkata:proxytest:n")
        pipe.execute()
        counted = difference(redis_proxies.counts(), before)["redis"]
    finally:
        client.close()
    assert counted == {"SET": 1, "GET": 2, "INCRBY": 3, "MULTI": 1, "DEL": 1, "EXEC": 1}


def test_inline_redis_commands_are_counted(redis_proxies: WorkerProxies) -> None:
    assert redis_proxies.redis is not None
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(redis_proxies.redis.path))
        raw.sendall(b"PING\r\nECHO hello\r\n")
        received = b""
        while received.count(b"\r\n") < 3:  # +PONG, then $5 hello
            received += raw.recv(1024)
    assert redis_proxies.counts()["redis"] == {"PING": 1, "ECHO": 1}


def pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def test_the_pg_stream_is_read_across_any_split_and_encryption_is_declined() -> None:
    """A server with TLS would answer 'S' and leave the proxy a stream it cannot read:
    the proxy answers the SSLRequest itself, with 'N', and does not forward it."""
    ssl_request = struct.pack("!ii", 8, 80877103)
    startup = struct.pack("!ii", 17, 196608) + b"user\0pk\0\0"
    stream = startup + b"".join(
        [
            pg_message(b"Q", b"BEGIN\0"),
            pg_message(b"Q", b"SELECT 1\0"),
            pg_message(b"P", b"s1\0SELECT $1\0\0\0"),
            pg_message(b"B", b"p1\0s1\0" + b"\0" * 6),
            pg_message(b"E", b"p1\0\0\0\0\0"),
            pg_message(b"E", b"p1\0\0\0\0\0"),
            pg_message(b"S", b""),
            pg_message(b"Q", b"SET x = 1\0"),
        ]
    )
    tally = Tally()
    reader = PgCounter(tally)
    assert reader.feed(ssl_request) == b"N"
    for i in range(len(stream)):  # one byte at a time
        assert reader.feed(stream[i : i + 1]) == b""
    assert tally.snapshot() == {"transaction": 1, "statements": 3, "setup": 1}


def test_a_server_side_cursor_counts_its_statement_once(pg_proxies: WorkerProxies) -> None:
    """yield_per's batches (FETCH) are not statements: the worker's count has one."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_proxies.db_url or "")
    try:
        with engine.connect() as conn:
            before = pg_proxies.counts()
            rows = conn.execution_options(yield_per=10).execute(
                text("SELECT g FROM generate_series(1, 55) AS g")
            )
            assert sum(1 for _ in rows) == 55
            counted = difference(pg_proxies.counts(), before)["postgresql"]
    finally:
        engine.dispose()
    assert counted["statements"] == 1
    assert counted["cursor"] >= 6  # the batches, apart


@pytest.mark.parametrize(
    "garbage", [b"\0\0\0\x04\0\0\0\0", struct.pack("!ii", 8, 196608) + b"Q\0\0\0\0"]
)
def test_a_garbled_pg_stream_ends_its_reading(garbage: bytes) -> None:
    """A length the server would refuse raises (the connection ends) instead of looping
    in the parent. Mutation tried: the length checks removed → no error, the bytes are
    read on as if framed."""
    reader = PgCounter(Tally())
    with pytest.raises(ValueError):
        reader.feed(garbage)
