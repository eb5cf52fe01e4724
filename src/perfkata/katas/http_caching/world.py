"""The grader's side of the wire: the clients, their private caches, the shared cache (a
CDN) and the transport that carries each request that reaches the origin to the
learner's app in its worker process — all in the grader's process, out of the learner's
reach.

The caches are hishel's RFC 9111 state machine over httpx (`CacheOptions(shared=True)`
for the CDN, `shared=False` for each user's browser), each over its own SQLite store in memory.
tests/katas/test_http_caching_rfc.py checks, clause by clause, that the installed hishel
honours what a shared cache must (private, s-maxage, Vary, no-store, Authorization).
Time is the stream's clock: hishel reads `time.time()` from its spec module, which is
pointed at the stream's clock while a world is open, and the origin stamps each
response with a `Date` from the same clock (as a server does), from which ages follow.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import hishel
import httpx
from hishel._core import _spec as hishel_spec
from hishel.httpx import CacheTransport

from perfkata.errors import LearnerCodeError
from perfkata.katas.http_caching.server import HOST

Call = Callable[[dict[str, Any]], Any]  # one request to the worker -> its result


class StreamClock:
    """Whole seconds; moved by the replay only."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@dataclass
class Exchange:
    """One request that reached the app, as the wire carried it."""

    path: str
    request_headers: dict[str, str]
    status: int
    headers: httpx.Headers
    body: bytes
    renders: int

    @property
    def wire_bytes(self) -> int:
        head = sum(len(k) + len(v) + 4 for k, v in self.headers.multi_items())
        return len(self.body) + head

    @property
    def conditional(self) -> bool:
        names = {k.lower() for k in self.request_headers}
        return bool(names & {"if-none-match", "if-modified-since"})


@dataclass
class Tally:
    """What the current client request caused below the client."""

    reached_shared: bool = False
    exchanges: list[Exchange] = field(default_factory=list)


class OriginTransport(httpx.BaseTransport):
    """Forwards a request to the learner's app in the worker (op "request")."""

    def __init__(self, call: Call, clock: StreamClock, tally: Callable[[], Tally]) -> None:
        self.call, self.clock, self.tally = call, clock, tally
        self.pending_edits: list[dict[str, Any]] = []  # applied before the next request

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
        path = request.url.raw_path.decode("ascii")
        edits, self.pending_edits = self.pending_edits, []
        status, response_headers, body, renders = self.send(path, headers, edits)
        # The server stamps every response with its clock, the stream's (Werkzeug's
        # make_conditional adds a Date from the wall clock, which the stream does not follow)
        response_headers["Date"] = formatdate(self.clock.now, usegmt=True)
        response_headers.pop("content-length", None)
        exchange = Exchange(path, headers, status, response_headers, body, renders)
        self.tally().exchanges.append(exchange)
        return httpx.Response(exchange.status, headers=response_headers, content=body)

    def send(
        self, path: str, headers: dict[str, str], edits: list[dict[str, Any]]
    ) -> tuple[int, httpx.Headers, bytes, int]:
        """In-process: one worker request, the app called through its WSGI interface."""
        args = {"path": path, "headers": headers, "edits": edits}
        reply = self.call({"op": "kata", "name": "request", "args": args, "between": True})
        response_headers = httpx.Headers([(str(k), str(v)) for k, v in reply["headers"]])
        body = str(reply["body"]).encode("latin-1")
        return int(reply["status"]), response_headers, body, int(reply["renders"])


class ServedOrigin(OriginTransport):
    """`--serve`: the learner's app behind a real HTTP server (Werkzeug's) in its worker,
    on a loopback port: each request goes over a TCP connection. The edits made since
    the last request and the renders a request cost travel in headers of perfkata's own
    (the server's wrapper takes them off before the app sees the request)."""

    def __init__(
        self, call: Call, clock: StreamClock, tally: Callable[[], Tally], port: int, timeout: float
    ) -> None:
        super().__init__(call, clock, tally)
        self.timeout = timeout
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout)

    def send(
        self, path: str, headers: dict[str, str], edits: list[dict[str, Any]]
    ) -> tuple[int, httpx.Headers, bytes, int]:
        sent = {**headers, EDITS_HEADER: json.dumps(edits)}
        try:
            response = self.client.get(path, headers=sent)
        except httpx.TimeoutException:
            raise LearnerCodeError(
                f"Your app did not answer GET {path} within {self.timeout:g} s (--timeout), "
                "over the loopback HTTP server (--serve).",
                hint="Look for a request that never returns.",
            ) from None
        except httpx.TransportError as exc:
            raise LearnerCodeError(
                f"Your app's HTTP server stopped answering at GET {path} ({exc}).",
                hint="Does the app exit, or close the server's socket?",
            ) from None
        got = httpx.Headers(response.headers)
        renders = int(got.pop(RENDERS_HEADER, "0"))
        for name in ("server", "connection"):
            got.pop(name, None)
        return response.status_code, got, response.content, renders

    def close(self) -> None:
        self.client.close()


EDITS_HEADER, RENDERS_HEADER = "X-Perfkata-Edits", "X-Perfkata-Renders"


# httpx adds these; the app never needs them and a real client varies in them
DROPPED = frozenset(
    {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}
)


class VariantStorage(hishel.SqliteStorage):
    """hishel's store, handing the state machine only the stored responses whose Vary'd
    request headers match the request in hand (`asking`). RFC 9111 §4.1 lets a cache
    either revalidate a non-matching variant or forward the request as a miss; hishel 2.0
    revalidates it with the new request's headers, and with Last-Modified alone a 304
    then confirms the *other* language's copy. Varnish and CDNs keep variants apart, as
    this does: a variant is served or revalidated only for requests it matches."""

    asking: httpx.Headers | None = None

    def get_entries(self, key: str) -> list[hishel.Entry]:
        entries = super().get_entries(key)
        if self.asking is None:
            return entries
        return [entry for entry in entries if same_variant(entry, self.asking)]


def same_variant(entry: hishel.Entry, asking: httpx.Headers) -> bool:
    names = [n.strip().lower() for n in entry.response.headers.get("vary", "").split(",")]
    if "*" in names:
        return False
    stored = entry.request.headers
    return all(stored.get(name) == asking.get(name) for name in names if name)


class SharedEntry(httpx.BaseTransport):
    """Marks that a client request got past the user's private cache, and tells the
    shared cache's store which request it is looking up entries for."""

    def __init__(
        self, inner: httpx.BaseTransport, storage: VariantStorage, tally: Callable[[], Tally]
    ) -> None:
        self.inner, self.storage, self.tally = inner, storage, tally

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.tally().reached_shared = True
        self.storage.asking = request.headers
        try:
            return self.inner.handle_request(request)
        finally:
            self.storage.asking = None


class ThreadClocks:
    """What hishel's spec module sees as `time` while streams run: each thread's own
    stream clock (the grade replays the learner's and the reference's side by side),
    the real clock in any other thread."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.local = threading.local()
        self.users = 0

    def time(self) -> float:
        clock: StreamClock | None = getattr(self.local, "clock", None)
        return clock.now if clock is not None else float(self.real.time())


_CLOCKS_LOCK = threading.Lock()


@contextmanager
def stream_time(clock: StreamClock) -> Iterator[None]:
    """hishel's spec module reads `time.time()` for ages and heuristics: in this thread,
    the stream's now, while the stream runs."""
    with _CLOCKS_LOCK:
        clocks = vars(hishel_spec)["time"]
        if not isinstance(clocks, ThreadClocks):
            clocks = ThreadClocks(clocks)
            setattr(hishel_spec, "time", clocks)  # noqa: B010
        clocks.users += 1
    clocks.local.clock = clock
    try:
        yield
    finally:
        clocks.local.clock = None
        with _CLOCKS_LOCK:
            clocks.users -= 1
            if clocks.users == 0:
                setattr(hishel_spec, "time", clocks.real)  # noqa: B010


def store(stack: ExitStack) -> VariantStorage:
    """A store of its own, in memory: a cache lives as long as one replay."""
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    stack.callback(connection.close)
    return VariantStorage(connection=connection)


class World:
    """One client per user (its Authorization and Accept-Language sent on every request),
    each behind its own private cache, all behind one shared cache, behind the origin."""

    def __init__(self, call: Call, clock: StreamClock, users: list[dict[str, Any]]) -> None:
        self.call, self.clock, self.users = call, clock, users
        self.current = Tally()
        self.clients: dict[int, httpx.Client] = {}
        self.origin = OriginTransport(call, clock, lambda: self.current)

    def served(self, port: int, timeout: float) -> None:
        """Reach the app over a loopback HTTP server instead (`--serve`)."""
        self.origin = ServedOrigin(self.call, self.clock, lambda: self.current, port, timeout)

    @contextmanager
    def opened(self) -> Iterator[World]:
        with ExitStack() as stack:
            stack.callback(self.origin.close)
            stack.enter_context(stream_time(self.clock))
            storage = store(stack)
            shared = CacheTransport(
                self.origin, storage=storage, rfc=hishel.CacheOptions(shared=True)
            )
            entry = SharedEntry(shared, storage, lambda: self.current)
            for user in self.users:
                private = CacheTransport(
                    entry,
                    storage=store(stack),
                    rfc=hishel.CacheOptions(shared=False),
                )
                headers = {
                    "Authorization": f"Bearer {user['token']}",
                    "Accept-Language": user["lang"],
                }
                client = httpx.Client(transport=private, base_url=HOST, headers=headers)
                stack.callback(client.close)
                self.clients[user["id"]] = client
            yield self

    @property
    def pending_edits(self) -> list[dict[str, Any]]:
        """Edits the app has not been told of yet: they ride with its next request."""
        return self.origin.pending_edits

    def get(self, user: int, path: str) -> tuple[httpx.Response, Tally]:
        """What the user's client ends up with, and what happened below it."""
        self.current = Tally()
        response = self.clients[user].get(path)
        response.read()
        return response, self.current
