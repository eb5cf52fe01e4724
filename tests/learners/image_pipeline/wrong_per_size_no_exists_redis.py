# One store message per size, so a failed upload is retried alone and nothing stored is
# stored again -- no need to ask the CDN first, I thought. Right on one machine; on
# RedisBroker a worker killed after storing a size, before its message was acked, has
# that message delivered again, and the size is uploaded twice.
import time

import dramatiq
from dramatiq import group, pipeline
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits import ConcurrentRateLimiter

from perfkata.katas.image_pipeline.app import (
    CDN_LIMIT, SIZES, db_session, download, image_key, mail, rate_limits, resize, scratch,
    storage,
)
from perfkata.katas.image_pipeline.models import Album, Image

broker = dramatiq.get_broker()
broker.add_middleware(GroupCallbacks(rate_limits))
LIMIT = ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT)


@dramatiq.actor(queue_name="fast", max_retries=2, min_backoff=10, max_backoff=100)
def fetch(image_id):
    with db_session() as session:
        img = session.get(Image, image_id)
        scratch.save(f"src:{image_id}", download(img.source))


@dramatiq.actor(queue_name="fast", max_retries=2, min_backoff=10, max_backoff=100)
def resize_image(image_id):
    data = scratch.load(f"src:{image_id}")
    for s in SIZES:
        scratch.save(f"{s}:{image_id}", resize(data, s))


@dramatiq.actor(
    queue_name="fast", max_retries=5, min_backoff=20, max_backoff=500,
    on_retry_exhausted="store_failed",
)
def store_size(image_id, size):
    key = image_key(image_id, size)
    while True:
        with LIMIT.acquire(raise_on_failure=False) as got:
            if got:
                storage.put(key, scratch.load(f"{size}:{image_id}"))
                return
        time.sleep(0.001)


@dramatiq.actor(queue_name="fast", max_retries=0)
def store_failed(message_data, retry_info):
    image_id = message_data["args"][0]
    with db_session() as session:
        session.get(Image, image_id).status = "failed"
        session.commit()
    # the rest of the chain never runs: hand the group its completion for this photo
    target = message_data["options"]
    while "group_completion_uuid" not in target and "pipe_target" in target:
        target = target["pipe_target"]["options"]
    if "group_completion_uuid" in target:
        skip.send_with_options(
            args=(image_id,),
            group_completion_uuid=target["group_completion_uuid"],
            group_completion_callbacks=target["group_completion_callbacks"],
        )


@dramatiq.actor(queue_name="fast", max_retries=0)
def skip(image_id):
    pass


@dramatiq.actor(queue_name="fast", max_retries=3, min_backoff=10, max_backoff=100)
def send_album_mail(album_id):
    with db_session() as session:
        album = session.get(Album, album_id, with_for_update=True)
        if album.emailed:
            return
        album.emailed = 1
        failed = [i.id for i in session.query(Image).filter_by(album_id=album_id, status="failed")]
        session.commit()
    mail.album_ready(album_id, failed)


# bulk: same work, own queue, and one message per image is enough there
@dramatiq.actor(queue_name="slow", max_retries=3, min_backoff=10, max_backoff=100)
def reprocess(image_id):
    with db_session() as session:
        original = download(session.get(Image, image_id).source)
    for s in SIZES:
        key = image_key(image_id, s)
        while True:
            with LIMIT.acquire(raise_on_failure=False) as got:
                if got:
                    if not storage.exists(key):
                        storage.put(key, resize(original, s))
                    break
            time.sleep(0.001)


def photo_chain(image_id):
    steps = [fetch.message(image_id), resize_image.message_with_options(args=(image_id,), pipe_ignore=True)]
    for s in SIZES:
        steps.append(store_size.message_with_options(args=(image_id, s), pipe_ignore=True))
    return pipeline(steps)


def upload_album(session, album_id):
    photos = session.query(Image.id).filter(Image.album_id == album_id).all()
    g = group([photo_chain(p.id) for p in photos])
    g.add_completion_callback(send_album_mail.message(album_id))
    g.run()


def reimport(session, image_ids):
    for i in image_ids:
        reprocess.send(i)
