"""Right in every way but one: `with CDN.acquire():` raises RateLimitExceeded when the
CDN is busy, and each refusal uses up one of store's 3 retries — under the bulk
backlog's contention photos are dead-lettered (and named failed) that the CDN never
refused to store."""

import dramatiq
from dramatiq import group, pipeline
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits import ConcurrentRateLimiter

from perfkata.katas.image_pipeline.app import (
    CDN_LIMIT,
    SIZES,
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


def fetch_image(image_id):
    with db_session() as session:
        image = session.get(Image, image_id)
        scratch.save(f"original:{image_id}", download(image.source))


def resize_image(image_id):
    original = scratch.load(f"original:{image_id}")
    for size in SIZES:
        scratch.save(f"{size}:{image_id}", resize(original, size))


def store_image(image_id):
    for size in SIZES:
        key = image_key(image_id, size)
        with CDN.acquire():
            if not storage.exists(key):
                storage.put(key, scratch.load(f"{size}:{image_id}"))


RETRY = dict(max_retries=3, min_backoff=100, max_backoff=2000)
fetch = dramatiq.actor(fetch_image, actor_name="fetch", queue_name="uploads", **RETRY)
resize_ = dramatiq.actor(resize_image, actor_name="resize", queue_name="uploads", **RETRY)
store = dramatiq.actor(
    store_image, actor_name="store", queue_name="uploads", on_retry_exhausted="image_failed", **RETRY
)
bulk_fetch = dramatiq.actor(fetch_image, actor_name="bulk_fetch", queue_name="bulk", priority=100, **RETRY)
bulk_resize = dramatiq.actor(resize_image, actor_name="bulk_resize", queue_name="bulk", priority=100, **RETRY)
bulk_store = dramatiq.actor(store_image, actor_name="bulk_store", queue_name="bulk", priority=100, **RETRY)


@dramatiq.actor(queue_name="uploads", max_retries=0)
def image_failed(message_data, retry_info):
    image_id = message_data["args"][0]
    with db_session() as session:
        session.get(Image, image_id).status = "failed"
        session.commit()
    options = message_data["options"]
    completed.send_with_options(
        args=(image_id,),
        group_completion_uuid=options["group_completion_uuid"],
        group_completion_callbacks=options["group_completion_callbacks"],
    )


@dramatiq.actor(queue_name="uploads", max_retries=0)
def completed(image_id):
    pass


@dramatiq.actor(queue_name="uploads", **RETRY)
def album_done(album_id):
    with db_session() as session:
        album = session.get(Album, album_id)
        if album.emailed:
            return
        album.emailed = 1
        failed = [i.id for i in session.query(Image).filter_by(album_id=album_id, status="failed")]
        session.commit()
    mail.album_ready(album_id, failed=failed)


def chain(stages, i):
    first, second, third = stages
    return pipeline(
        [
            first.message(i),
            second.message_with_options(pipe_ignore=True, args=(i,)),
            third.message_with_options(pipe_ignore=True, args=(i,)),
        ]
    )


def upload_album(session, album_id):
    ids = [i.id for i in session.query(Image).filter_by(album_id=album_id).order_by(Image.id)]
    g = group([chain((fetch, resize_, store), i) for i in ids])
    g.add_completion_callback(album_done.message(album_id))
    g.run()


def reimport(session, image_ids):
    for i in image_ids:
        chain((bulk_fetch, bulk_resize, bulk_store), i).run()
