"""The job side of a run: a fresh dramatiq broker the learner's actors are bound to, and
a middleware that records every message — what it carries, which queue, its retries,
its failures — and tells the fakes which message is being processed (an email names
the message that sent it, so the grader can deliver that message once more)."""

from __future__ import annotations

import json
import traceback
from types import ModuleType
from typing import Any

import dramatiq
from dramatiq.errors import RateLimitExceeded
from dramatiq.middleware import Middleware, Retries, default_middleware

from perfkata.katas.image_pipeline.app import StorageUnavailable, services
from perfkata.katas.report_worker.jobs import (
    KataRedisBroker,
    KataStubBroker,
    actors_of,
    is_callback,
)
from perfkata.katas.report_worker.store import Tally

PRIMITIVES = (int, str, float, bool, type(None))
MAX_PAYLOAD = 512  # bytes of JSON arguments: ids, a size name, a short list of ids


def is_primitive(value: Any) -> bool:
    """A JSON primitive, or a short list of them (an album's image ids)."""
    if isinstance(value, list | tuple):
        return all(isinstance(v, PRIMITIVES) for v in value)
    return isinstance(value, PRIMITIVES)


def subject_of(message: Any) -> int | None:
    """The image (or album) a message is about: its first int argument, keyword or
    list item — or, for a failure callback, that of the message that failed."""
    args, kwargs = list(message.args), dict(message.kwargs)
    if is_callback(message):
        args, kwargs = list(args[0].get("args") or ()), dict(args[0].get("kwargs") or {})
    for value in [*args, *kwargs.values()]:
        if isinstance(value, list | tuple) and value:
            value = value[0]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


class Recorder(Middleware):
    """Counts in the run's tally; marks each queue as carrying bulk or album work. Last in
    the broker's list, so its after-hooks run first (dramatiq runs them in reverse):
    before the next stage of a chain is sent, a group's barrier counted, the message acked."""

    def __init__(self, tally: Tally, learner_file: str) -> None:
        self.tally, self.learner_file = tally, learner_file
        # what this process already told the tally: on Redis each touch is a round trip
        self.queues_seen: set[str] = set()
        self.largest = 0

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if message.options.get("retries") or is_callback(message):
            return
        self.tally.incr("sent")
        subject = subject_of(message)
        kind = "bulk" if subject is not None and subject in services.run.plan.bulk else "user"
        if (queue := f"queue-{kind}:{message.queue_name}") not in self.queues_seen:
            self.tally.put(queue, b"1")
            self.queues_seen.add(queue)
        payload = json.dumps([message.args, message.kwargs], default=repr)
        if len(payload) > self.largest:
            self.largest = len(payload)
            self.tally.maximum("payload_bytes", len(payload))
        if not all(is_primitive(a) for a in [*message.args, *message.kwargs.values()]):
            self.tally.incr("non_primitive")
            if self.tally.get("non_primitive_example") is None:
                example = f"{message.actor_name}{payload[:100]}"
                self.tally.put("non_primitive_example", example.encode())

    def before_process_message(self, broker: Any, message: Any) -> None:
        services.local.message = json.dumps(message.asdict())
        services.local.subject = None if is_callback(message) else subject_of(message)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        services.local.message = services.local.subject = None
        if exception is None:
            for hook in services.run.after_message:  # the kill switch (runner.py)
                hook()
            return
        if isinstance(exception, StorageUnavailable):
            self.tally.put(f"raised-storage:{message.actor_name}", b"1")
            return
        if isinstance(exception, RateLimitExceeded):  # a refusal, counted as a retry
            self.tally.incr("refusals_raised")
            if self.tally.get("first_refusal") is None:
                self.tally.put("first_refusal", self.describe(message, exception).encode())
        self.tally.incr("unexpected_errors")
        if self.tally.get("first_error") is None:
            self.tally.put("first_error", self.describe(message, exception).encode())

    def after_skip_message(self, broker: Any, message: Any) -> None:
        services.local.message = services.local.subject = None

    def after_nack(self, broker: Any, message: Any) -> None:
        if not is_callback(message):
            self.tally.incr("dead")
            self.tally.incr(f"dead:{subject_of(message)}")

    def describe(self, message: Any, exception: BaseException) -> str:
        frames = [
            f
            for f in traceback.extract_tb(exception.__traceback__)
            if f.filename == self.learner_file
        ]
        where = (
            f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        )
        return f"{message.actor_name} raised {type(exception).__name__}: {exception}{where}"


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
            maintenance_chance=1_000_000 if redis.get("consumer") else 10,
            dead_message_ttl=3_600_000,
        )
    broker.tally = tally
    return broker


def bind(module: ModuleType, broker: Any) -> list[Any]:
    """Point the learner's actors at this run's broker, which also becomes the global
    one (pipeline() and group() take it from there), with the middleware the learner
    added (GroupCallbacks, a dead-letter handler …) or configured (Retries)."""
    actors = actors_of(module)  # before set_broker: it looks on the broker they were declared on
    dramatiq.set_broker(broker)
    if actors:
        adopt_middleware(actors[0].broker, broker)
    for actor in actors:
        actor.broker = broker
        broker.declare_actor(actor)
    return actors


def adopt_middleware(source: Any, broker: Any) -> None:
    for middleware in source.middleware:
        if isinstance(middleware, Retries):
            ours = next(m for m in broker.middleware if isinstance(m, Retries))
            for name in ("max_retries", "min_backoff", "max_backoff", "retry_when"):
                setattr(ours, name, getattr(middleware, name))
        elif is_learners(middleware) and middleware not in broker.middleware:
            broker.middleware.insert(len(broker.middleware) - 1, middleware)
            for option in middleware.actor_options:
                broker.actor_options.add(option)


def is_learners(middleware: Any) -> bool:
    """Not one of dramatiq's defaults, not ours, not the one a Worker adds for itself."""
    ours = (*default_middleware, Recorder)
    return not isinstance(middleware, ours) and type(middleware).__module__ != "dramatiq.worker"
