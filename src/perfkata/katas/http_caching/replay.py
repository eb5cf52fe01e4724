"""The graded run, driven from the grader's process: the stream replayed through the
clients, their private caches and the shared cache (world.py) against the learner's app
in the worker, each response a client ends up with judged by the oracle, and what the
wire carried counted. The learner's process sees only the requests that reach it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from perfkata.katas.http_caching.data import START_TIME, ShopData, generate
from perfkata.katas.http_caching.oracle import LIMITS, Expected, Oracle, parsed, route_of
from perfkata.katas.http_caching.stream import Event, stream
from perfkata.katas.http_caching.world import Call, Exchange, StreamClock, Tally, World

DASHBOARD = "/users/<id>/dashboard"

# how the gate's faults are told, the gravest first
ORDER = ("leak", "stored", "vary", "lifetime", "stale", "wrong")


def cache_control(headers: httpx.Headers) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in ",".join(headers.get_list("cache-control")).split(","):
        name, _, value = part.strip().partition("=")
        if name:
            found[name.lower()] = value.strip().strip('"')
    return found


def seconds(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def explicit_lifetime(headers: httpx.Headers) -> int | None:
    """The longest time any cache may serve this response without asking (RFC 9111 §4.2.1:
    s-maxage for a shared cache, max-age, else Expires − Date); None when it says none."""
    cc = cache_control(headers)
    if "no-store" in cc or "no-cache" in cc:
        return 0
    own = seconds(cc.get("max-age"))
    if own is None and headers.get("expires"):
        try:
            expires = parsedate_to_datetime(headers["expires"]).timestamp()
            date = parsedate_to_datetime(headers["date"]).timestamp()
            own = max(0, int(expires - date))
        except (TypeError, ValueError, KeyError):
            own = 0  # an invalid Expires means "already expired" (§5.3)
    shared = None if "private" in cc else seconds(cc.get("s-maxage"))
    lives = [life for life in (own, shared) if life is not None]
    return max(lives) if lives else None


def shared_may_store(headers: httpx.Headers) -> bool:
    """Whether a shared cache may store a response to a request that carried Authorization
    (RFC 9111 §3.5): only when it says public, s-maxage or must-revalidate — and neither
    private nor no-store (§3)."""
    cc = cache_control(headers)
    if "private" in cc or "no-store" in cc:
        return False
    return bool({"public", "s-maxage", "must-revalidate"} & set(cc))


def expires_before_date(headers: httpx.Headers) -> bool:
    """An Expires at or before the response's Date, with no max-age/s-maxage over it: the
    response is stale on arrival (an Expires from the app's clock, not the shop's)."""
    cc = cache_control(headers)
    if "expires" not in headers or "max-age" in cc or "s-maxage" in cc:
        return False
    try:
        expires = parsedate_to_datetime(headers["expires"]).timestamp()
        return expires <= parsedate_to_datetime(headers["date"]).timestamp()
    except (TypeError, ValueError, KeyError):
        return True  # an invalid Expires means "already expired" (§5.3)


def shown(headers: httpx.Headers) -> str:
    """The caching headers of a response, as a diagnostic quotes them."""
    parts = [
        f"{name}: {headers[name]}"
        for name in ("Cache-Control", "Vary", "ETag", "Last-Modified", "Expires")
        if name in headers
    ]
    return ", ".join(parts) if parts else "no caching headers"


@dataclass
class RouteStats:
    requests: int = 0
    shared_answers: int = 0
    origin: int = 0
    renders: int = 0
    renders_on_304: int = 0
    answered_304: int = 0
    wire_bytes: int = 0
    unchanged_revalidations: int = 0
    unchanged_304: int = 0
    validators: bool = False
    last_headers: httpx.Headers | None = None
    example_revalidation: str = ""


@dataclass
class Judge:
    """Every response a client ends up with, against the oracle; and the wire, counted."""

    oracle: Oracle
    clock: StreamClock
    routes: dict[str, RouteStats] = field(default_factory=lambda: defaultdict(RouteStats))
    violations: Counter[str] = field(default_factory=Counter)
    # per kind of fault and route: how many, and the first one told in full — so every
    # broken route is named at once, not only the first of each kind
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)
    first: dict[tuple[str, str], str] = field(default_factory=dict)
    seen: dict[tuple[str, str, str], Any] = field(default_factory=dict)  # validator -> body
    # the caching headers each address last answered with (200 or 304): what diagnostics quote
    answered: dict[str, httpx.Headers] = field(default_factory=dict)

    def now(self) -> int:
        return int(self.clock.now - START_TIME)

    def fault(self, kind: str, path: str, message: str | Callable[[], str]) -> None:
        """One fault; its message is built only for the first of its kind on its route."""
        key = (kind, route_of(path))
        self.violations[kind] += 1
        self.faults[key] += 1
        if key not in self.first:
            self.first[key] = message() if callable(message) else message

    def told(self) -> list[tuple[str, str, int, str]]:
        """(kind, route, count, first message) for every route that broke a rule, the
        gravest kind first."""
        keys = sorted(self.first, key=lambda k: (ORDER.index(k[0]), k[1]))
        return [
            (kind, route, self.faults[kind, route], self.first[kind, route]) for kind, route in keys
        ]

    def response(
        self, number: int, event: Event, lang: str, got: httpx.Response, tally: Tally
    ) -> None:
        stats = self.routes[route_of(event.path)]
        stats.requests += 1
        stats.shared_answers += tally.reached_shared and not tally.exchanges
        expected = self.oracle.expected(event.user, lang, event.path)
        for exchange in tally.exchanges:
            self.wire(stats, exchange, expected, lang)
        self.check(number, event, lang, got, tally, expected)

    def wire(self, stats: RouteStats, exchange: Exchange, expected: Expected, lang: str) -> None:
        stats.origin += 1
        stats.renders += exchange.renders
        stats.wire_bytes += exchange.wire_bytes
        if exchange.status in (200, 304):
            self.answered[exchange.path] = exchange.headers
            stats.last_headers = exchange.headers  # what a note quotes: not a 403's
        elif stats.last_headers is None:
            stats.last_headers = exchange.headers
        has = {"etag", "last-modified"} & {k.lower() for k in exchange.headers}
        stats.validators = stats.validators or bool(has)
        if exchange.status == 304:
            stats.answered_304 += 1
            stats.renders_on_304 += exchange.renders
        held = self.revalidated_body(exchange, lang)
        if held is not None and expected.status == 200 and held == expected.body:
            stats.unchanged_revalidations += 1
            stats.unchanged_304 += exchange.status == 304
            if exchange.status != 304 and not stats.example_revalidation:
                asked = {
                    k: v for k, v in exchange.request_headers.items() if k.lower().startswith("if-")
                }
                stats.example_revalidation = ", ".join(f"{k}: {v}" for k, v in asked.items())
        if exchange.status == 200:
            for name in ("etag", "last-modified"):
                if name in exchange.headers:
                    self.seen[exchange.path, lang, exchange.headers[name]] = parsed(exchange.body)
        self.check_lifetime(exchange)

    def revalidated_body(self, exchange: Exchange, lang: str) -> Any:
        """The body the cache asking holds, found by the validator it sent."""
        asked = {k.lower(): v for k, v in exchange.request_headers.items()}
        for name in ("if-none-match", "if-modified-since"):
            if name in asked and (exchange.path, lang, asked[name]) in self.seen:
                return self.seen[exchange.path, lang, asked[name]]
        return None

    def check_lifetime(self, exchange: Exchange) -> None:
        route = route_of(exchange.path)
        if exchange.status not in (200, 304):
            return
        if route == DASHBOARD and shared_may_store(exchange.headers):
            self.fault("stored", exchange.path, lambda: self.stored(exchange))
        life = explicit_lifetime(exchange.headers)
        if life is None or life <= LIMITS[route]:
            return
        limit = LIMITS[route]
        self.fault(
            "lifetime",
            exchange.path,
            f"GET {route} may be served by a cache for {life} s without asking "
            f"({shown(exchange.headers)}), but the shop allows a client to see a "
            f"change at most {limit} s late: "
            + (
                f"lower max-age/s-maxage to {limit} or less"
                if limit
                else "say max-age=0 (or no-cache) so every reuse is revalidated"
            ),
        )

    def stored(self, exchange: Exchange) -> str:
        cc = cache_control(exchange.headers)
        why = ", ".join(n for n in ("public", "s-maxage", "must-revalidate") if n in cc)
        return (
            f"GET {exchange.path} is kept by the shared cache ({shown(exchange.headers)}): "
            f"the request carried Authorization, but {why} lets a shared cache store the "
            "response — one user's page sits in the CDN, kept from others only as long as "
            "every reuse is revalidated; a page for one user must say Cache-Control: "
            "private (or no-store)"
        )

    def check(
        self,
        number: int,
        event: Event,
        lang: str,
        got: httpx.Response,
        tally: Tally,
        expected: Expected,
    ) -> None:
        body = parsed(got.content)
        where = f"at request {number}"
        route = route_of(event.path)
        headers = self.answered.get(event.path, got.headers)
        if expected.status == 403:
            owner = self.oracle.owner_of(body)
            if got.status_code == 200 and owner is not None:
                self.fault(
                    "leak",
                    event.path,
                    f"GET {event.path} is stored by the shared cache ({shown(headers)}) — user "
                    f"{event.user} received user {owner}'s dashboard {where}: a page for one "
                    "user must say Cache-Control: private (or no-store), never public",
                )
            elif got.status_code != 403:
                self.fault(
                    "wrong",
                    event.path,
                    f"GET {event.path} by user {event.user} {where} answered {got.status_code}, "
                    "not 403 (it is not their dashboard)",
                )
            return
        if got.status_code == 200 and body == expected.body:
            return
        if got.status_code != 200:
            self.fault(
                "wrong",
                event.path,
                f"GET {event.path} by user {event.user} {where} received {got.status_code}, "
                f"not 200 ({shown(headers)})",
            )
            return
        past = self.oracle.past(expected.key, body)
        if past is not None:
            late = self.now() - past.until
            if late > LIMITS[route]:
                self.fault(
                    "stale",
                    event.path,
                    lambda: self.stale(event, where, late, past.because, tally, headers),
                )
            return
        self.other(event, lang, body, where, headers)

    def stale(
        self,
        event: Event,
        where: str,
        late: int,
        because: str,
        tally: Tally,
        headers: httpx.Headers,
    ) -> str:
        route = route_of(event.path)
        said = (
            f"GET {event.path} (user {event.user}) {where} received the page as it was before "
            f"{because}, {late} s after it changed; the shop allows {LIMITS[route]} s"
        )
        answered = [e for e in tally.exchanges if e.status == 304]
        if answered:
            asked = ", ".join(
                f"{k}: {v}"
                for k, v in answered[-1].request_headers.items()
                if k.lower().startswith("if-")
            )
            return (
                f"{said} — the app answered 304 to {asked}: the validator did not change "
                f"when the page did ({shown(answered[-1].headers)}); derive it from every "
                "row the page shows (the product and its reviews, the user and their reviews)"
            )
        which = "the shared cache" if tally.reached_shared else "the user's own cache"
        said = f"{said} — served by {which} without asking the app ({shown(headers)})"
        if explicit_lifetime(headers) is None:  # no max-age, s-maxage, Expires or no-cache
            said += (
                ": with no lifetime given, a cache may guess one from Last-Modified "
                "(heuristic freshness, RFC 9111 §4.2.2) — say max-age, or no-cache"
            )
        return said

    def other(self, event: Event, lang: str, body: Any, where: str, headers: httpx.Headers) -> None:
        other_lang = "de" if lang == "en" else "en"
        key = (event.path, other_lang)
        if route_of(event.path) == "/products/<id>" and (
            body == self.oracle.body(key) or self.oracle.past(key, body) is not None
        ):
            vary = headers.get("vary")
            self.fault(
                "vary",
                event.path,
                f"GET {event.path} asked in {lang} by user {event.user} {where} received the "
                f"{other_lang} page from the shared cache: the page depends on Accept-Language, "
                + (f"but its Vary is {vary!r}" if vary else "but the response has no Vary header")
                + " — add Vary: Accept-Language",
            )
            return
        owner = self.oracle.owner_of(body)
        if owner is not None and owner != event.user:
            self.fault(
                "leak",
                event.path,
                f"GET {event.path} is stored by the shared cache ({shown(headers)}) — user "
                f"{event.user} received user {owner}'s dashboard {where}",
            )
            return
        self.fault(
            "wrong",
            event.path,
            f"GET {event.path} (user {event.user}) {where} received a body that is none of "
            f"the shop's pages for it ({shown(headers)})",
        )


def replay(call: Call, size: int, seed: int, serve: float | None = None) -> dict[str, Any]:
    """The counted run: an op_count-shaped reply built in the grader's process. `serve`
    (a timeout in seconds) puts the app behind a loopback HTTP server in its worker."""
    data = generate(size, seed)
    clock = StreamClock(START_TIME)
    judge = Judge(Oracle(data), clock)
    langs = {u["id"]: u["lang"] for u in data.users}
    opened = call(
        {"op": "kata", "name": "open", "args": {"size": size, "seed": seed, "serve": bool(serve)}}
    )
    world_of = World(call, clock, data.users)
    if serve:
        world_of.served(int(opened["port"]), serve)
    with world_of.opened() as world:
        for number, event in enumerate(stream(size, data, seed), 1):
            clock.now = START_TIME + event.at
            if event.is_edit:
                edit = {**event.edit, "at": int(clock.now)}
                world.pending_edits.append(edit)  # sent with the next request to the app
                judge.oracle.edit(edit, event.at, number)
                continue
            got, tally = world.get(event.user, event.path)
            judge.response(number, event, langs[event.user], got, tally)
        edits = world.pending_edits
    closed = call({"op": "kata", "name": "close", "args": {"edits": edits}})
    return reply(judge, size, data, closed)


def reply(judge: Judge, size: int, data: ShopData, closed: dict[str, Any]) -> dict[str, Any]:
    from perfkata.katas.http_caching.report import counters, notes  # it imports this module

    found = counters(judge, int(closed.get("renders", 0)))
    wrong = sum(judge.violations.values())
    told = judge.told()
    output = {
        "violations": wrong,
        "first": [message for _, _, _, message in told],
        # [kind, route, count] per route that broke a rule: the gate's one-line summary
        "faults": [[kind, route, count] for kind, route, count, _ in told],
        "requests": found["requests"],
        "seed": data.seed,
    }
    entry: dict[str, Any] = {
        "size": size,
        "counters": found,
        "output": output,
        "diagnostics": notes(judge),
    }
    if "tampering" in closed:
        entry["tampering"] = closed["tampering"]
    return entry
