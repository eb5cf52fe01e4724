"""`a | b | c` pipelines and a group callback; the CDN limit the other way: a plain
`CDN.acquire()` whose refusal becomes `dramatiq.Retry(delay=20)`, and a retry_when that
always retries a Retry but counts StorageUnavailable in the message's own options
(through CurrentMessage), at most 5 — refusals are kept out of the retry budget, so
the contended photo still stores. From the learner playtest."""

import dramatiq
from dramatiq import group, pipeline  # noqa: F401
from dramatiq.middleware import CurrentMessage, GroupCallbacks
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.errors import RateLimitExceeded

from perfkata.katas.image_pipeline.app import (
    CDN_LIMIT,
    SIZES,
    StorageUnavailable,
    db_session,
    download,
    image_key,
    mail,
    rate_limits,
    resize,
    scratch,
    storage,
)
from perfkata.katas.image_pipeline.models import Album, Image

broker = dramatiq.get_broker()
broker.add_middleware(GroupCallbacks(rate_limits))
if not any(isinstance(m, CurrentMessage) for m in broker.middleware):
    broker.add_middleware(CurrentMessage())

CDN = ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT)
MAX_CDN_FAILURES = 5


def tell_apart(retries, exc):
    if isinstance(exc, dramatiq.Retry):  # the CDN was busy: wait for a slot, no budget used
        return True
    if isinstance(exc, StorageUnavailable):
        return getattr(exc, "cdn_failures", MAX_CDN_FAILURES + 1) <= MAX_CDN_FAILURES
    return False


def _fetch(image_id):
    with db_session() as s:
        src = s.get(Image, image_id).source
    scratch.save(f"img:{image_id}:original", download(src))


def _resize(image_id):
    original = scratch.load(f"img:{image_id}:original")
    for size in SIZES:
        scratch.save(f"img:{image_id}:{size}", resize(original, size))


def _store(image_id):
    for size in SIZES:
        key = image_key(image_id, size)
        if storage.exists(key):
            continue
        data = scratch.load(f"img:{image_id}:{size}")
        try:
            with CDN.acquire():
                storage.put(key, data)
        except RateLimitExceeded:
            raise dramatiq.Retry(delay=20)
        except StorageUnavailable as exc:
            message = CurrentMessage.get_current_message()
            n = message.options.get("cdn_failures", 0) + 1
            message.options["cdn_failures"] = n
            exc.cdn_failures = n
            raise
    with db_session() as s:
        s.get(Image, image_id).status = "stored"
        s.commit()


def _dead_letter(message_data, retry_info):
    image_id = message_data["args"][0]
    with db_session() as s:
        s.get(Image, image_id).status = "failed"
        s.commit()
    opts = message_data.get("options") or {}
    if opts.get("group_completion_uuid"):
        stand_in.send_with_options(
            group_completion_uuid=opts["group_completion_uuid"],
            group_completion_callbacks=opts["group_completion_callbacks"],
        )


STORE_RETRIES = dict(retry_when=tell_apart, min_backoff=100, max_backoff=30_000)


def _actors(prefix, queue_name, priority):
    kw = dict(queue_name=queue_name, priority=priority)
    f = dramatiq.actor(_fetch, actor_name=f"{prefix}_fetch", max_retries=2, min_backoff=100, max_backoff=1000, **kw)
    r = dramatiq.actor(_resize, actor_name=f"{prefix}_resize", max_retries=2, min_backoff=100, max_backoff=1000, **kw)
    st = dramatiq.actor(_store, actor_name=f"{prefix}_store", on_retry_exhausted=f"{prefix}_dead_letter",
                        **STORE_RETRIES, **kw)
    dramatiq.actor(_dead_letter, actor_name=f"{prefix}_dead_letter", **kw)
    return f, r, st


ALBUM = _actors("albums", "albums", 0)
REIMPORT = _actors("reimports", "reimports", 100)


@dramatiq.actor(queue_name="albums")
def stand_in():
    """Succeeds in place of a photo that never stored, so the group barrier reaches zero."""


@dramatiq.actor(queue_name="albums")
def notify_owner(album_id):
    with db_session() as s:
        hit = s.query(Album).filter_by(id=album_id, emailed=0).update({"emailed": 1})
        s.commit()
        if not hit:
            return  # a second delivery of this message
        failed = sorted(i for (i,) in s.query(Image.id).filter_by(album_id=album_id, status="failed"))
    mail.album_ready(album_id, failed=failed)


def _chain(image_id, actors):
    f, r, st = actors
    return (
        f.message(image_id)
        | r.message_with_options(args=(image_id,), pipe_ignore=True)
        | st.message_with_options(args=(image_id,), pipe_ignore=True)
    )


def upload_album(session, album_id):
    ids = [i for (i,) in session.query(Image.id).filter_by(album_id=album_id).order_by(Image.id)]
    g = group([_chain(i, ALBUM) for i in ids])
    g.add_completion_callback(notify_owner.message(album_id))
    g.run()


def reimport(session, image_ids):
    for image_id in image_ids:
        _chain(image_id, REIMPORT).run()
