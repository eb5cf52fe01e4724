"""`perfkata doctor` looks for servers where they usually run, not only where configured,
and says how to use what it found."""

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from perfkata.doctor import POSTGRES, REDIS, Server, server_findings
from perfkata.errors import ServiceUnavailable


@pytest.fixture
def listening() -> Iterator[int]:
    """A TCP port something listens on (the usual local port, stood in for)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answering(server: Server, port: int, version: str = "PostgreSQL 16.1") -> Server:
    local = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    return replace(server, local=local, check=lambda url: version, describe=lambda v: v)


def test_a_server_at_the_usual_port_is_found_with_the_flag_to_use_it(listening, monkeypatch):
    # Given nothing configured, and a server answering at the usual port
    monkeypatch.delenv(POSTGRES.env, raising=False)
    server = answering(POSTGRES, listening)
    # When doctor looks
    [found] = server_findings(server, None)
    # Then it says what runs where, and the exact flag that grades on it
    assert found.status == "found" and found.ok
    assert found.detail == (
        f"PostgreSQL 16.1 is running at 127.0.0.1:{listening} — grade on it with "
        f"--db-url {server.local}"
    )


def test_nothing_at_the_usual_port_says_how_to_configure_one(monkeypatch):
    monkeypatch.delenv(REDIS.env, raising=False)
    server = replace(REDIS, local=f"redis://127.0.0.1:{free_port()}/0")
    [found] = server_findings(server, None)
    assert found.status == "not set" and "nothing listens at 127.0.0.1:" in found.detail
    assert "--redis-url" in found.detail


def test_a_given_url_is_checked_first_and_its_error_named(listening, monkeypatch):
    # Given --db-url naming a server that refuses, and another at the usual port
    def refuse(url: str) -> str:
        if str(listening) in url:
            return "PostgreSQL 16.1"
        raise ServiceUnavailable(f"Cannot connect to the database at {url}.")

    server = replace(answering(POSTGRES, listening), check=refuse)
    given = f"postgresql+psycopg://me@127.0.0.1:{free_port()}/db"
    # When doctor looks, Then the given one is an error naming it, and the local one is offered
    configured, local = server_findings(server, given)
    assert configured.status == "ERROR" and given in configured.detail
    assert local.status == "found" and f"--db-url {server.local}" in local.detail


def test_a_url_at_the_usual_port_is_not_reported_twice(listening):
    server = answering(POSTGRES, listening)
    assert [f.status for f in server_findings(server, server.local)] == ["ok"]
