"""What the learner's pipeline.py imports: the sessions, the download, the resize, the
CDN's storage (slow, at most CDN_LIMIT uploads at once, failing now and then), the
mail service, a scratch space shared by every worker, and the rate-limiter backend
for dramatiq's GroupCallbacks and rate limiters. The grader points them at the current
run before calling the learner's code; every fake counts what it was asked to do."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dramatiq.rate_limits import RateLimiterBackend
from dramatiq.rate_limits.backends import StubBackend
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from perfkata.katas.image_pipeline import data
from perfkata.katas.image_pipeline.data import SIZES, image_key
from perfkata.katas.report_worker.store import MemoryTally, Tally

__all__ = [
    "CDN_LIMIT",
    "SIZES",
    "StorageUnavailable",
    "db_session",
    "download",
    "image_key",
    "mail",
    "rate_limits",
    "resize",
    "scratch",
    "storage",
]

CDN_LIMIT = 2  # the CDN's API refuses (and bills) more concurrent uploads than this
_KEY = re.compile(r"^images/(\d{6})/(\w+)\.jpg$")


class StorageUnavailable(Exception):
    """The CDN did not answer: transient, worth retrying later."""


@dataclass(frozen=True)
class Plan:
    """This run's faults and latencies: which (image, size) fails its first store, which
    image never stores, which images are users' photos (slow to move) or bulk ones, and
    which photo finds the CDN busy (its first slot requests refused)."""

    flaky: dict[int, str] = field(default_factory=dict)
    doomed: int | None = None
    photos: frozenset[int] = frozenset()
    bulk: frozenset[int] = frozenset()
    latency: float = 0.002  # seconds per upload of a photo; legacy images are tiny
    contended: int | None = None

    @classmethod
    def of(cls, dataset: data.PipelineData, faults: bool = True, latency: float = 0.002) -> Plan:
        photos = frozenset(i["id"] for i in dataset.images if i["album_id"] is not None)
        if not faults:
            return cls(photos=photos, bulk=frozenset(dataset.bulk), latency=latency)
        bulk = frozenset(dataset.bulk)
        flaky, doomed = dict(dataset.flaky), dataset.doomed
        return cls(flaky, doomed, photos, bulk, latency, dataset.contended or None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flaky": {str(k): v for k, v in self.flaky.items()},
            "doomed": self.doomed,
            "photos": sorted(self.photos),
            "bulk": sorted(self.bulk),
            "latency": self.latency,
            "contended": self.contended,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        flaky = {int(k): v for k, v in raw["flaky"].items()}
        photos, bulk = frozenset(raw["photos"]), frozenset(raw["bulk"])
        return cls(flaky, raw["doomed"], photos, bulk, raw["latency"], raw.get("contended"))


class _Current(threading.local):
    """Per thread: the job message being processed (set by the recorder) and whether
    the grader is inside a web request; the run itself is shared (see _Run)."""

    message: Any = None
    subject: int | None = None  # the image (or album) that message is about
    in_request: str | None = None


@dataclass
class _Run:
    tally: Tally = field(default_factory=MemoryTally)
    plan: Plan = field(default_factory=Plan)
    engine: Engine | None = None
    limits: Any = field(default_factory=StubBackend)  # a dramatiq RateLimiterBackend
    prefix: str = "perfkata-images"
    on_put: list[Callable[[str], None]] = field(default_factory=list)  # arms the kill switch
    # run after a message was processed, before dramatiq acks it or sends what follows
    after_message: list[Callable[[], None]] = field(default_factory=list)
    in_request: Counter[str] = field(default_factory=Counter)  # work done inside requests


class Services:
    """The run the fakes talk to; the grader sets it with use() before any learner call."""

    def __init__(self) -> None:
        self.run = _Run()
        self.local = _Current()

    def use(self, run: _Run) -> None:
        self.run = run

    def tick(self) -> int:
        """A global order of events (uploads, emails) across threads and processes."""
        return self.run.tally.incr("seq")

    def noted_in_request(self, what: str) -> None:
        """Requests run in the grader's own process: counted there, never in the tally."""
        if self.local.in_request is not None:
            self.run.in_request[f"{self.local.in_request}:{what}"] += 1


services = Services()


def new_run(tally: Tally, plan: Plan, engine: Engine | None, **options: Any) -> _Run:
    return _Run(tally, plan, engine, **options)


def _image_of(key: str) -> tuple[int, str] | None:
    match = _KEY.match(key)
    return (int(match[1]), match[2]) if match else None


class Storage:
    """The CDN's storage API. Every upload is counted per key (a photo's with its place
    in the run's order of events), and the uploads in flight are tracked: their peak is
    what the CDN's limit is judged on. Bulk uploads touch the tally as little as they
    can: on Redis each touch is a round trip, and there are thousands of them."""

    def __init__(self) -> None:
        self._peak_seen = threading.local()

    def put(self, key: str, content: bytes) -> None:
        run = services.run
        services.noted_in_request("put")
        in_flight = run.tally.incr("uploads_in_flight")
        if in_flight > getattr(self._peak_seen, run.prefix, 0):  # peaks only grow
            run.tally.maximum("peak_uploads", in_flight)
            setattr(self._peak_seen, run.prefix, in_flight)
        try:
            self._put(run, key, content)
        finally:
            run.tally.incr("uploads_in_flight", -1)
        for hook in run.on_put:
            hook(key)

    def _put(self, run: _Run, key: str, content: bytes) -> None:
        image = _image_of(key)
        if image is not None and image[0] in run.plan.photos:
            time.sleep(run.plan.latency)
            self._fail_as_planned(run, key, image)
        run.tally.put(f"file:{key}", bytes(content))
        run.tally.incr(f"put:{key}")
        if image is None:
            return
        if image[0] in run.plan.photos:
            run.tally.maximum(f"last-put:{image[0]}", services.tick())
            # how far the backlog got by this photo: an album never emailed is done here
            album = data.album_of(image[0])
            run.tally.maximum(f"bulk-at-photo:{album}", run.tally.count("bulk_started"))

    def _fail_as_planned(self, run: _Run, key: str, image: tuple[int, str]) -> None:
        if image[0] == run.plan.doomed:
            raise StorageUnavailable(f"upload of {key} timed out")
        if run.plan.flaky.get(image[0]) == image[1] and run.tally.incr(f"attempt:{key}") == 1:
            raise StorageUnavailable(f"upload of {key} timed out")

    def exists(self, key: str) -> bool:
        return services.run.tally.get(f"file:{key}") is not None


class Mail:
    """The mail service. Each album's emails are counted, the first one's place in the
    order of events kept with the images it names as failed."""

    def album_ready(self, album_id: int, failed: Iterable[int] = ()) -> None:
        run = services.run
        services.noted_in_request("mail")
        time.sleep(0.001)
        sent = run.tally.incr(f"email:{album_id}")
        if sent > 1:
            return
        run.tally.put(f"email-seq:{album_id}", str(services.tick()).encode())
        run.tally.put(f"email-failed:{album_id}", json.dumps(sorted(map(int, failed))).encode())
        run.tally.put(f"bulk-at-email:{album_id}", str(run.tally.count("bulk_started")).encode())
        message = services.local.message
        if message is not None:  # what sent it, for the grader to deliver once more
            run.tally.put(f"email-message:{album_id}", message.encode())


class Scratch:
    """Space every worker can read, for what one stage hands the next (messages carry
    ids, not bytes): an original after download, its resized sizes."""

    def save(self, name: str, content: bytes) -> None:
        services.run.tally.put(f"scratch:{name}", bytes(content))

    def load(self, name: str) -> bytes | None:
        return services.run.tally.get(f"scratch:{name}")


def download(source: str) -> bytes:
    """Fetch an image's original from where it was uploaded (a slow network call)."""
    services.noted_in_request("download")
    if source.startswith("upload://"):
        time.sleep(services.run.plan.latency / 2)
    else:  # a legacy image: how far the backlog got is counted in downloads
        services.run.tally.incr("bulk_started")
    return data.original(source)


def resize(original: bytes, size: str) -> bytes:
    """Scale an original to one of SIZES (CPU work)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: one of {', '.join(SIZES)}")
    services.noted_in_request("resize")
    return data.resized(original, size)


def db_session() -> Session:
    """A new session on the run's database, for code that runs outside a request (a job)."""
    if services.run.engine is None:
        raise RuntimeError("db_session() is only available while perfkata runs the kata")
    return Session(services.run.engine)


def _busy(counted: bool) -> bool:
    """The CDN is busy for the plan's contended photo: other clients hold every slot
    for its first CONTENDED_REFUSALS slot requests (a ConcurrentRateLimiter's acquire
    is an add, then an incr: the incr counts). Contention happens under any load, and
    forced here it happens on every run, so a limiter whose refusals use up the retries
    that StorageUnavailable needs fails every grade, not one grade in three. Only the
    contended photo's own messages are refused (a group's barrier is an add of its
    size and a decr: untouched unless a one-child group is built inside such a message)."""
    run = services.run
    photo = run.plan.contended
    if photo is None or services.local.subject != photo:
        return False
    if run.tally.count(f"refused:{photo}") >= data.CONTENDED_REFUSALS:
        return False
    if counted:
        run.tally.incr(f"refused:{photo}")
    return True


class _Limits(RateLimiterBackend):
    """The rate-limiter backend of the run (StubBackend, or Redis with --redis-url), its
    keys kept apart per run: pass it to GroupCallbacks and to your rate limiters."""

    def _key(self, key: str) -> str:
        return f"{services.run.prefix}:limits:{key}"

    def add(self, key: str, value: int, ttl: int) -> bool:
        if value == 1 and _busy(counted=False):  # a slot's first request: taken already
            return False
        return bool(services.run.limits.add(self._key(key), value, ttl))

    def incr(self, key: str, amount: int, maximum: int, ttl: int) -> bool:
        if amount == 1 and _busy(counted=True):  # a slot request: every slot is taken
            return False
        return bool(services.run.limits.incr(self._key(key), amount, maximum, ttl))

    def decr(self, key: str, amount: int, minimum: int, ttl: int) -> bool:
        return bool(services.run.limits.decr(self._key(key), amount, minimum, ttl))

    def incr_and_sum(
        self, key: str, keys: Callable[[], list[str]], amount: int, maximum: int, ttl: int
    ) -> bool:
        def prefixed() -> list[str]:
            return [self._key(k) for k in keys()]

        return bool(
            services.run.limits.incr_and_sum(self._key(key), prefixed, amount, maximum, ttl)
        )

    def wait(self, key: str, timeout: int) -> bool:
        return bool(services.run.limits.wait(self._key(key), timeout))

    def wait_notify(self, key: str, ttl: int) -> None:
        services.run.limits.wait_notify(self._key(key), ttl)


storage = Storage()
mail = Mail()
scratch = Scratch()
rate_limits = _Limits()
