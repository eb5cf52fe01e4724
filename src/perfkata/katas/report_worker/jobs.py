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
from dramatiq.middleware import Middleware, Retries, default_middleware
from sqlalchemy import select
from sqlalchemy.orm import Session

from perfkata.katas.report_worker.app import NetworkError, current
from perfkata.katas.report_worker.models import Report
from perfkata.katas.report_worker.store import Tally

REAL_DELAY_CAP_MS = 20  # retries run almost at once; the requested delay is what is judged
# dramatiq's default policy (20 retries) is still seen whole; past this, retries are stopped
RUNAWAY_RETRIES = 25
PRIMITIVES = (int, str, float, bool, type(None))
CALLBACK_KEYS = frozenset({"actor_name", "message_id", "options"})


def placeholder_broker() -> None:
    """Actors bind to the global broker when decorated: give the learner's import a
    harmless one (no Redis connection) and silence dramatiq's per-failure tracebacks."""
    dramatiq.set_broker(StubBroker())
    logging.getLogger("dramatiq").setLevel(logging.CRITICAL)


def actors_of(module: ModuleType) -> list[dramatiq.Actor[Any, Any]]:
    """The module's actors: decorated functions, class-based ones (GenericActor keeps its
    actor in `__actor__`), and any other actor whose function the module defines (kept
    in a dict, a class attribute …) on the broker it was declared on."""
    found: dict[str, dramatiq.Actor[Any, Any]] = {}
    for value in vars(module).values():
        actor = getattr(value, "__actor__", value) if not isinstance(value, type) else value
        if isinstance(actor, dramatiq.Actor):
            found.setdefault(actor.actor_name, actor)
    for actor in dramatiq.get_broker().actors.values():
        if getattr(actor.fn, "__module__", None) == module.__name__:
            found.setdefault(actor.actor_name, actor)
    return list(found.values())


def is_callback(message: Any) -> bool:
    """A message dramatiq sent to an on_retry_exhausted or on_failure actor: its first
    argument is the failed message itself (`message.asdict()`), whatever the actor's name."""
    args = list(message.args)
    return bool(args) and isinstance(args[0], dict) and args[0].keys() >= CALLBACK_KEYS


def report_id_of(message: Any) -> str:
    """The report a message is about — its first argument, keyword argument, or the "id"
    of a dict sent instead of an id — or, for a failure callback, the report of the
    message that failed."""
    args: list[Any] = list(message.args)
    kwargs: dict[str, Any] = dict(message.kwargs)
    if is_callback(message):
        args, kwargs = list(args[0].get("args") or ()), dict(args[0].get("kwargs") or {})
    first = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(first, dict):
        first = first.get("id", first.get("report_id"))
    return str(first) if isinstance(first, PRIMITIVES) and first is not None else "?"


def callback_kind(message: Any) -> str:
    """Which of dramatiq's callbacks sent it: the second argument of on_retry_exhausted
    holds the retries, on_failure's the exception."""
    info = message.args[1] if len(message.args) > 1 else {}
    return "on_retry_exhausted" if isinstance(info, dict) and "retries" in info else "on_failure"


class Recorder(Middleware):
    """Every enqueue, attempt, retry, failure and dead letter, counted per report in the
    run's tally; after a failure callback, whether it left its report marked failed."""

    def __init__(self, tally: Tally, learner_file: str) -> None:
        self.tally, self.learner_file = tally, learner_file

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if message.options.get("retries") or is_callback(message):
            return
        self.tally.incr("sent")
        self.tally.incr(f"sent:{report_id_of(message)}")
        payload = json.dumps([message.args, message.kwargs], default=repr)
        self.tally.maximum("payload_bytes", len(payload))
        if not all(isinstance(a, PRIMITIVES) for a in [*message.args, *message.kwargs.values()]):
            self.tally.incr("non_primitive")
            self.tally.put("non_primitive_example", payload[:120].encode())

    def before_process_message(self, broker: Any, message: Any) -> None:
        report = report_id_of(message)
        if is_callback(message):
            self.tally.incr(f"callback:{report}")
            self.tally.put(f"callback_kind:{message.actor_name}", callback_kind(message).encode())
            return
        self.tally.incr(f"attempt:{report}")
        self.tally.maximum(f"retried:{report}", int(message.options.get("retries", 0)))

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        report = report_id_of(message)
        if is_callback(message) and exception is None and status_of(report) == "failed":
            self.tally.incr(f"marked_failed:{report}")
        if exception is not None and not is_callback(message):
            self.tally.incr(f"raised:{report}")
        if exception is None or isinstance(exception, NetworkError):
            return
        self.tally.incr("unexpected_errors")
        first = "first_callback_error" if is_callback(message) else "first_error"
        if self.tally.get(first) is None:
            self.tally.put(first, self.describe(message, exception).encode())

    def after_nack(self, broker: Any, message: Any) -> None:
        if not is_callback(message):
            self.tally.incr(f"dead:{report_id_of(message)}")
            if message.options.get("retries"):  # failed after retrying: the policy ran out
                self.tally.incr("exhausted")

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
            f"{message.actor_name}({report_id_of(message)}) raised "
            f"{type(exception).__name__}: {exception}{where}"
        )


def status_of(report: str) -> str | None:
    """The report's status as the database has it now (a callback has just committed)."""
    if current.engine is None or not report.isdigit():
        return None
    with Session(current.engine) as session:
        return session.scalar(select(Report.status).where(Report.id == int(report)))


class RecordedDelays:
    """Mixed into a broker: note the delay a retry asked for, then enqueue it capped — or,
    past RUNAWAY_RETRIES, not at all: a policy that never stops would hold the run until
    its timeout, and what it would do is already known."""

    tally: Tally

    def enqueue(self, message: Any, *, delay: int | None = None) -> Any:
        retries = int(message.options.get("retries") or 0)
        job = not is_callback(message)  # a callback's own retries are not the job's policy
        if delay is not None and retries and job:
            self.tally.maximum("retry_delay_ms", int(delay))
            self.tally.incr("retries")
        if retries > RUNAWAY_RETRIES:
            if job:
                self.tally.incr(f"runaway:{report_id_of(message)}")
                self.tally.incr("runaway_retries")
            return message  # dropped: the attempt it follows is acked, the queue drains
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
    """Point every actor of the learner's module at this run's broker, with the
    middleware the learner added to (or configured on) the broker they were declared on."""
    actors = actors_of(module)
    if actors:
        adopt_middleware(actors[0].broker, broker)
    for actor in actors:
        actor.broker = broker
        broker.declare_actor(actor)
    return actors


def adopt_middleware(source: Any, broker: Any) -> None:
    """A learner's own middleware (a dead-letter handler, CurrentMessage …) joins this
    run's broker ahead of the recorder, in its order; a Retries the learner configured
    lends its policy to this broker's Retries. Dramatiq's other defaults stay fresh."""
    for middleware in source.middleware:
        if isinstance(middleware, Retries):
            ours = next(m for m in broker.middleware if isinstance(m, Retries))
            for name in ("max_retries", "min_backoff", "max_backoff", "retry_when"):
                setattr(ours, name, getattr(middleware, name))
        elif is_learners(middleware):
            broker.middleware.insert(len(broker.middleware) - 1, middleware)


def is_learners(middleware: Any) -> bool:
    """Not one of dramatiq's defaults, not ours, not the one a Worker adds for itself."""
    ours = (*default_middleware, Recorder)
    return not isinstance(middleware, ours) and type(middleware).__module__ != "dramatiq.worker"


def learner_middleware(broker: Any) -> list[str]:
    """The names of the middleware the learner added (see adopt_middleware)."""
    return [type(m).__name__ for m in broker.middleware if is_learners(m)]


def new_namespace() -> str:
    return f"perfkata-reports-{uuid.uuid4().hex[:12]}"
