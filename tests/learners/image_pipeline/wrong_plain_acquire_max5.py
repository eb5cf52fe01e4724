"""The hint-follower's shape (a pipeline per image, a group callback, two queues, a
dead letter completing the group) with max_retries=5, but a plain `with CDN.acquire():`:
every refusal raises RateLimitExceeded and uses up one of the message's 5 retries, so
the photo the CDN is busy for is dead-lettered on refusals alone (gate, and its album's
email names it failed). From the learner playtest."""

import time

import dramatiq  # noqa: F401 — you will need it
from dramatiq import group, pipeline  # noqa: F401
from dramatiq.middleware import GroupCallbacks  # noqa: F401
from dramatiq.rate_limits import ConcurrentRateLimiter  # noqa: F401

from perfkata.katas.image_pipeline.app import (  # noqa: F401
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

dramatiq.get_broker().add_middleware(GroupCallbacks(rate_limits))

CDN = ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT)


def _set_image_status(image_id, status):
    session = db_session()
    try:
        image = session.get(Image, image_id)
        image.status = status
        session.commit()
    finally:
        session.close()


# --- the stage bodies -------------------------------------------------------


def _fetch(image_id):
    session = db_session()
    try:
        image = session.get(Image, image_id)
        source = image.source
    finally:
        session.close()
    scratch.save(f"original-{image_id}", download(source))


def _resize(image_id):
    original = scratch.load(f"original-{image_id}")
    for size in SIZES:
        scratch.save(f"{size}-{image_id}", resize(original, size))


def _store(image_id):
    for size in SIZES:
        key = image_key(image_id, size)
        if storage.exists(key):
            continue
        content = scratch.load(f"{size}-{image_id}")
        with CDN.acquire():  # raises RateLimitExceeded when busy -> dramatiq retries it
            storage.put(key, content)
    _set_image_status(image_id, "stored")


def _image_failed(message_data, retry_info):
    image_id = message_data["args"][0]
    _set_image_status(image_id, "failed")
    options = message_data.get("options", {})
    if options.get("group_completion_uuid") and options.get("group_completion_callbacks"):
        # complete the album's group on behalf of the photo that never stored
        group_member_done.send_with_options(
            group_completion_uuid=options["group_completion_uuid"],
            group_completion_callbacks=options["group_completion_callbacks"],
        )


RETRY = dict(max_retries=5, min_backoff=100, max_backoff=2000)

# --- album (upload) actors --------------------------------------------------

fetch = dramatiq.actor(_fetch, actor_name="fetch", queue_name="uploads", **RETRY)
resize_image = dramatiq.actor(_resize, actor_name="resize_image", queue_name="uploads", **RETRY)
store = dramatiq.actor(
    _store, actor_name="store", queue_name="uploads", on_retry_exhausted="image_failed", **RETRY
)
image_failed = dramatiq.actor(_image_failed, actor_name="image_failed", queue_name="uploads")


@dramatiq.actor(queue_name="uploads")
def group_member_done():
    """No-op: its success counts one child of the group."""


@dramatiq.actor(queue_name="uploads")
def album_done(album_id):
    session = db_session()
    try:
        # mark first, atomically: a second delivery finds emailed=1 and stops
        claimed = (
            session.query(Album)
            .filter(Album.id == album_id, Album.emailed == 0)
            .update({Album.emailed: 1, Album.status: "done"}, synchronize_session=False)
        )
        session.commit()
        if not claimed:
            return
        failed = [
            i.id
            for i in session.query(Image).filter_by(album_id=album_id, status="failed").order_by(Image.id)
        ]
    finally:
        session.close()
    mail.album_ready(album_id, failed=failed)


# --- bulk (re-import) actors: same work, their own queue, lower priority --------

BULK = dict(queue_name="bulk", priority=100)
fetch_bulk = dramatiq.actor(_fetch, actor_name="fetch_bulk", **BULK, **RETRY)
resize_bulk = dramatiq.actor(_resize, actor_name="resize_bulk", **BULK, **RETRY)
store_bulk = dramatiq.actor(
    _store, actor_name="store_bulk", on_retry_exhausted="image_failed_bulk", **BULK, **RETRY
)
image_failed_bulk = dramatiq.actor(_image_failed, actor_name="image_failed_bulk", **BULK)


def _chain(image_id, f, r, s):
    return pipeline(
        [
            f.message(image_id),
            r.message_with_options(args=(image_id,), pipe_ignore=True),
            s.message_with_options(args=(image_id,), pipe_ignore=True),
        ]
    )


def upload_album(session, album_id):
    """The web request: a user uploaded an album."""
    ids = [
        i.id for i in session.query(Image).filter_by(album_id=album_id).order_by(Image.id).all()
    ]
    g = group([_chain(i, fetch, resize_image, store) for i in ids])
    g.add_completion_callback(album_done.message(album_id))
    g.run()


def reimport(session, image_ids):
    """The admin's request: re-process these legacy images (thousands of them)."""
    for image_id in image_ids:
        _chain(image_id, fetch_bulk, resize_bulk, store_bulk).run()
