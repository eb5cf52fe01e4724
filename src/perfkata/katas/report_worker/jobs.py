"""The job side of a run: a fresh dramatiq broker the learner's actors are bound to, a
middleware that records every message, retry and dead letter, and retries that happen
at once while the delay the learner's policy asked for is recorded."""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from types import ModuleType
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, default_middleware

from perfkata.katas.report_worker.app import NetworkError
from perfkata.katas.report_worker.store import Tally

REAL_DELAY_CAP_MS = 20  # retries run almost at once; the requested delay is what is judged
PRIMITIVES = (int, str, float, bool, type(None))


def placeholder_broker() -> None:
    """Actors bind to the global broker when decorated: give the learner's import a
    harmless one (no Redis connection) and silence dramatiq's per-failure tracebacks."""
    dramatiq.set_broker(StubBroker())
    logging.getLogger("dramatiq").setLevel(logging.CRITICAL)


def actors_of(module: ModuleType) -> list[dramatiq.Actor[Any, Any]]:
    return [value for value in vars(module).values() if isinstance(value, dramatiq.Actor)]


def callback_names(broker: dramatiq.Broker) -> set[str]:
    return {
        name
        for actor in broker.actors.values()
        if (name := actor.options.get("on_retry_exhausted")) is not None
    }


def report_id_of(message: Any, callbacks: set[str]) -> str:
    """The report a message is about — its first argument, keyword argument, or the "id"
    of a dict sent instead of an id — or, for a retry-exhausted callback, the report of
    the message that ran out of retries."""
    args: list[Any] = list(message.args)
    kwargs: dict[str, Any] = dict(message.kwargs)
    if message.actor_name in callbacks and args and isinstance(args[0], dict):
        args, kwargs = list(args[0].get("args") or ()), dict(args[0].get("kwargs") or {})
    first = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(first, dict):
        first = first.get("id", first.get("report_id"))
    return str(first) if isinstance(first, PRIMITIVES) and first is not None else "?"


class Recorder(Middleware):
    """Every enqueue, attempt and dead letter, counted per report in the run's tally."""

    def __init__(self, tally: Tally, learner_file: str) -> None:
        self.tally, self.learner_file = tally, learner_file

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if message.options.get("retries") or message.actor_name in callback_names(broker):
            return
        self.tally.incr("sent")
        payload = json.dumps([message.args, message.kwargs], default=repr)
        self.tally.maximum("payload_bytes", len(payload))
        if not all(isinstance(a, PRIMITIVES) for a in [*message.args, *message.kwargs.values()]):
            self.tally.incr("non_primitive")
            self.tally.put("non_primitive_example", payload[:120].encode())

    def before_process_message(self, broker: Any, message: Any) -> None:
        callbacks = callback_names(broker)
        kind = "callback" if message.actor_name in callbacks else "attempt"
        self.tally.incr(f"{kind}:{report_id_of(message, callbacks)}")

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is None or isinstance(exception, NetworkError):
            return
        self.tally.incr("unexpected_errors")
        if self.tally.get("first_error") is None:
            self.tally.put("first_error", self.describe(message, exception).encode())

    def after_nack(self, broker: Any, message: Any) -> None:
        self.tally.incr(f"dead:{report_id_of(message, callback_names(broker))}")

    def describe(self, message: Any, exception: BaseException) -> str:
        frames = [
            f
            for f in traceback.extract_tb(exception.__traceback__)
            if f.filename == self.learner_file
        ]
        where = (
            f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        )
        return (
            f"{message.actor_name}({report_id_of(message, set())}) raised "
            f"{type(exception).__name__}: {exception}{where}"
        )


class RecordedDelays:
    """Mixed into a broker: note the delay a retry asked for, then enqueue it capped."""

    tally: Tally

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        if delay is not None and message.options.get("retries"):
            self.tally.maximum("retry_delay_ms", int(delay))
            self.tally.incr("retries")
        capped = None if delay is None else min(delay, REAL_DELAY_CAP_MS)
        return super().enqueue(message, delay=capped)  # type: ignore[misc]


class KataStubBroker(RecordedDelays, StubBroker):
    pass


class KataRedisBroker(RecordedDelays, RedisBroker):
    pass


def new_broker(tally: Tally, learner_file: str, redis: dict[str, Any] | None) -> Any:
    """A fresh broker with the recorder; `redis` gives url and namespace for a real one."""
    middleware = [m() for m in default_middleware] + [Recorder(tally, learner_file)]
    if redis is None:
        broker: Any = KataStubBroker(middleware=middleware, fail_fast_default=False)
    else:
        broker = KataRedisBroker(  # type: ignore[no-untyped-call]
            url=redis["url"],
            namespace=redis["namespace"],
            middleware=middleware,
            heartbeat_timeout=1500,
            # A consumer does maintenance on every command, so a dead worker's messages
            # come back as soon as its heartbeat is 1.5 s old; the request side does not
            # (it would slow every enqueue the request path is timed on).
            maintenance_chance=1_000_000 if redis.get("consumer") else 10,
            dead_message_ttl=3_600_000,
        )
    broker.tally = tally
    return broker


def bind(module: ModuleType, broker: Any) -> list[Any]:
    """Point every actor of the learner's module at this run's broker."""
    actors = actors_of(module)
    for actor in actors:
        actor.broker = broker
        broker.declare_actor(actor)
    return actors


def new_namespace() -> str:
    return f"perfkata-reports-{uuid.uuid4().hex[:12]}"
