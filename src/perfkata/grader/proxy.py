"""Counting proxies in the parent: evidence of what a worker sent its PostgreSQL and
Redis that no code inside the worker can alter.

The worker is given Unix sockets in a folder of the grade's own (`folder`), not the
servers' addresses; every byte it sends crosses this process, which forwards it to the
real server over TCP and counts on the way — PostgreSQL statements (simple-query 'Q'
and extended-protocol 'E' messages) and Redis commands by name. The learner can patch
every counter inside its own process; these it cannot reach.

Threads, not a selector loop: two per connection (one each way), blocking sends give
back-pressure for free, and a grade opens a handful of connections.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

# PostgreSQL startup request codes (protocol 3): answered here rather than forwarded.
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_KEEP = 4096  # bytes of a message body read to classify it (a longer one is a statement)

_TRANSACTION = re.compile(
    rb"\s*(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END|START\s+TRANSACTION|ABORT)\b|\s*;*\s*$",
    re.IGNORECASE,
)
# What a driver or SQLAlchemy says on a new connection, not the code under test. The
# queries are matched whole, so a learner's query cannot pass as one by its prefix; a
# SET/SHOW cannot read a table.
_SETUP_VERB = re.compile(rb"\s*(?:SET|SHOW|RESET|DISCARD|DEALLOCATE)\s", re.IGNORECASE)
_SETUP_QUERY = re.compile(
    rb"select pg_catalog\.version\(\)|select current_schema\(\)"
    rb"|SELECT\s+typname AS name, oid, typarray AS array_oid,\s+oid::regtype::text AS regtype,"
    rb" typdelim AS delimiter\s+FROM pg_type t\s+"
    rb"WHERE t\.oid = (?:\$1::regtype|to_regtype\(\$1\))\s+ORDER BY t\.oid\s*"
)


# A server-side cursor's reads (yield_per/stream_results): the DECLARE is the statement
# counted; the batches it is fetched in are round trips the in-process count never saw.
_CURSOR = re.compile(rb"\s*(?:FETCH|MOVE|CLOSE)\s", re.IGNORECASE)


class PgCounter:
    """Reads a client's stream of PostgreSQL frontend messages and tallies executions:
    `statements` (what the code under test ran), `transaction` (BEGIN/COMMIT …), `setup`
    (SET/SHOW and a connection's introspection) and `cursor` (a server-side cursor's
    FETCH/CLOSE). Fed bytes as they pass; a stream the server would refuse ends it."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.started = False
        self.buffer = b""
        self.skip = 0  # bytes of the current message body past what is kept
        self.statements: dict[bytes, bytes] = {}  # prepared name -> text prefix
        self.portals: dict[bytes, bytes] = {}  # portal name -> text prefix

    def feed(self, data: bytes) -> bytes:
        """Consume client bytes; returns what to answer the client directly (b"N" to an
        SSL or GSSAPI encryption request, so the stream stays readable)."""
        answer = b""
        while data:
            if self.skip:
                taken = min(self.skip, len(data))
                self.skip -= taken
                data = data[taken:]
                continue
            self.buffer += data
            data = b""
            while True:
                head = 8 if not self.started else 5
                if len(self.buffer) < head:
                    break
                if not self.started:
                    length, code = struct.unpack("!ii", self.buffer[:8])
                    if length < 8:  # the server refuses it too; never loop on it
                        raise ValueError("a garbled startup packet")
                    if len(self.buffer) < length:
                        break
                    self.buffer = self.buffer[length:]
                    if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                        answer += b"N"
                    else:
                        self.started = True
                    continue
                kind = self.buffer[:1]
                (length,) = struct.unpack("!i", self.buffer[1:5])
                body_len = length - 4
                if body_len < 0:  # as the server would, end the connection
                    raise ValueError("a garbled message length")
                kept = min(body_len, _KEEP)
                if len(self.buffer) < 5 + kept:
                    break
                body = self.buffer[5 : 5 + kept]
                available = len(self.buffer) - 5
                if available >= body_len:
                    self.buffer = self.buffer[5 + body_len :]
                else:  # the rest of a long message (a big INSERT, COPY data) is not kept
                    self.skip = body_len - available
                    self.buffer = b""
                self.message(kind, body)
                if self.skip:
                    break
        return answer

    def message(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self.executed(body.split(b"\0", 1)[0])
        elif kind == b"P":
            name, _, rest = body.partition(b"\0")
            self.statements[name] = rest.split(b"\0", 1)[0]
        elif kind == b"B":
            portal, _, rest = body.partition(b"\0")
            self.portals[portal] = self.statements.get(rest.split(b"\0", 1)[0], b"")
        elif kind == b"E":
            self.executed(self.portals.get(body.split(b"\0", 1)[0], b""))

    def executed(self, text: bytes) -> None:
        if _TRANSACTION.match(text):
            self.tally.add("transaction")
        elif _CURSOR.match(text):
            self.tally.add("cursor")
        elif _SETUP_VERB.match(text) or _SETUP_QUERY.fullmatch(text):
            self.tally.add("setup")
        else:
            self.tally.add("statements")


class RespCounter:
    """Reads a client's stream of Redis commands (RESP arrays of bulk strings, or inline
    commands) and tallies each by its name, upper-cased."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.buffer = b""
        self.skip = 0  # bytes of a bulk string (plus CRLF) not kept
        self.left = 0  # elements of the current command still to read
        self.name: bytes | None = None  # the current command's name once read
        self.bulk: int | None = None  # length of the bulk string being read, if any

    def feed(self, data: bytes) -> bytes:
        if self.skip:
            taken = min(self.skip, len(data))
            self.skip -= taken
            data = data[taken:]
        self.buffer += data
        while self.step():
            pass
        return b""

    def step(self) -> bool:
        """Read one element or one command head; False when more bytes are needed."""
        if self.skip:
            return False
        if self.bulk is not None:
            return self.read_bulk(self.bulk)
        line, found, rest = self.buffer.partition(b"\r\n")
        if not found:
            return False
        self.buffer = rest
        if self.left == 0:
            if line.startswith(b"*"):
                self.left, self.name = int(line[1:]), None
                if self.left <= 0:
                    self.left = 0
            elif line.strip():  # an inline command: "PING", "SET k v"
                self.tally.add(line.split()[0].upper().decode("latin-1"))
            return True
        if line.startswith(b"$"):
            self.bulk = int(line[1:])
            if self.bulk < 0:  # a command's arguments are never null
                raise ValueError("a garbled bulk length")
        return True

    def read_bulk(self, size: int) -> bool:
        if self.name is None:  # the command name: short, kept
            if len(self.buffer) < size + 2:
                return False
            self.name = self.buffer[:size]
            self.tally.add(self.name.upper().decode("latin-1"))
            self.buffer = self.buffer[size + 2 :]
        elif len(self.buffer) >= size + 2:
            self.buffer = self.buffer[size + 2 :]
        else:  # a big value: passed on without keeping it
            self.skip = size + 2 - len(self.buffer)
            self.buffer = b""
        self.bulk = None
        self.left -= 1
        return True


class Tally:
    """Counts shared by a proxy's connection threads; read by the grading thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)


class CountingProxy:
    """Listens on a Unix socket; each connection is forwarded to (host, port) by TCP,
    its client→server bytes fed to a counter made by `reader`."""

    def __init__(
        self,
        path: Path,
        upstream: tuple[str, int],
        reader: Callable[[Tally], PgCounter | RespCounter],
    ) -> None:
        self.path, self.upstream, self.reader = path, upstream, reader
        self.tally = Tally()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        path.chmod(0o666)  # a worker running as another uid connects (needs write on it)
        self.listener.listen(64)
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"proxy {path.name}").start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
                server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                client.close()  # the worker sees a refused connection, as it would directly
                continue
            self.sockets += [client, server]
            counter = self.reader(self.tally)
            threading.Thread(target=self._pump, args=(client, server, counter), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, counter: PgCounter | RespCounter | None
    ) -> None:
        try:
            while data := source.recv(1 << 16):
                if counter is None:
                    sink.sendall(data)
                    continue
                # Counted before it is forwarded, never after: once the server has it, its
                # answer (and the worker's reply to the parent, and the parent's snapshot)
                # may come before this thread runs again.
                answer = counter.feed(data)
                if answer:  # the startup's encryption request: answered, not forwarded
                    source.sendall(answer)
                    continue
                sink.sendall(data)
        except (OSError, ValueError, struct.error):
            pass  # a connection closed either way; a garbled stream ends its connection
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def counts(self) -> Counter[str]:
        return self.tally.snapshot()

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class WorkerProxies:
    """One worker's PostgreSQL and Redis proxies, in `folder` (a folder the worker may be
    given, e.g. bind-mounted into its namespace), and the URLs that reach them."""

    def __init__(self, folder: Path, db_url: str | None, redis_url: str | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o711)  # reachable by a worker of another uid, not listed by it
        self.folder = folder
        self.db: CountingProxy | None = None
        self.redis: CountingProxy | None = None
        self.db_url, self.redis_url = db_url, redis_url
        if db_url is not None:
            url = make_url(db_url)
            port = url.port or 5432
            self.db = CountingProxy(
                folder / f".s.PGSQL.{port}", (url.host or "127.0.0.1", port), PgCounter
            )
            # psycopg finds the socket file as <host folder>/.s.PGSQL.<port>
            to_proxy = {"host": str(folder), "port": str(port), "sslmode": "disable"}
            proxied = url._replace(host=None, port=None).update_query_dict(to_proxy)
            self.db_url = proxied.render_as_string(hide_password=False)
        if redis_url is not None:
            parts = urlsplit(redis_url)
            db = parts.path.strip("/") or "0"
            self.redis = CountingProxy(
                folder / "redis.sock",
                (parts.hostname or "127.0.0.1", parts.port or 6379),
                RespCounter,
            )
            auth = parts.netloc.rpartition("@")[0]
            self.redis_url = f"unix://{auth + '@' if auth else ''}{folder / 'redis.sock'}?db={db}"

    def counts(self) -> dict[str, Counter[str]]:
        """Everything counted so far, by the servers proxied: {"postgresql": …, "redis": …}."""
        counts = {}
        if self.db is not None:
            counts["postgresql"] = self.db.counts()
        if self.redis is not None:
            counts["redis"] = self.redis.counts()
        return counts

    def close(self) -> None:
        for proxy in (self.db, self.redis):
            if proxy is not None:
                proxy.close()


def difference(
    after: dict[str, Counter[str]], before: dict[str, Counter[str]]
) -> dict[str, Counter[str]]:
    """What was counted between two snapshots."""
    return {name: after[name] - before.get(name, Counter()) for name in after}
