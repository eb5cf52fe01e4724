"""No group: each image's chain ends in finish(), which marks the image done and then
claims the album's email with one conditional UPDATE once no image is left pending.
The dead letter marks the image failed and runs the same claim."""

import time

import dramatiq
from dramatiq import pipeline
from dramatiq.rate_limits import ConcurrentRateLimiter
from sqlalchemy import exists, select, update

from perfkata.katas.image_pipeline.app import (
    CDN_LIMIT, SIZES, db_session, download, image_key, mail, rate_limits, resize, scratch,
    storage,
)
from perfkata.katas.image_pipeline.models import Album, Image

cdn = ConcurrentRateLimiter(rate_limits, "cdn-uploads", limit=CDN_LIMIT)


def upload(key, content):
    while True:
        with cdn.acquire(raise_on_failure=False) as ok:
            if ok:
                if not storage.exists(key):
                    storage.put(key, content)
                return
        time.sleep(0.001)


def make_stages(q, prio):
    opts = dict(queue_name=q, priority=prio, max_retries=4, min_backoff=50, max_backoff=5000)

    @dramatiq.actor(actor_name="fetch_" + q, **opts)
    def fetch(image_id):
        with db_session() as s:
            src = s.scalar(select(Image.source).where(Image.id == image_id))
        scratch.save("orig-%d" % image_id, download(src))
        return image_id

    @dramatiq.actor(actor_name="resize_" + q, **opts)
    def shrink(image_id):
        orig = scratch.load("orig-%d" % image_id)
        for size in SIZES:
            scratch.save("%s-%d" % (size, image_id), resize(orig, size))
        return image_id

    @dramatiq.actor(actor_name="store_" + q, on_retry_exhausted="gave_up", **opts)
    def store(image_id):
        for size in SIZES:
            upload(image_key(image_id, size), scratch.load("%s-%d" % (size, image_id)))
        return image_id

    return fetch, shrink, store


user_stages = make_stages("user-uploads", 0)
bulk_stages = make_stages("reimport", 50)


def settle(image_id, status):
    with db_session() as s:
        album_id = s.scalar(select(Image.album_id).where(Image.id == image_id))
        s.execute(update(Image).where(Image.id == image_id).values(status=status))
        s.commit()
        if album_id is None:
            return
        pending = exists().where(Image.album_id == album_id, Image.status.not_in(["done", "failed"]))
        claimed = s.execute(
            update(Album).where(Album.id == album_id, Album.emailed == 0, ~pending).values(emailed=1)
        ).rowcount
        failed = s.scalars(
            select(Image.id).where(Image.album_id == album_id, Image.status == "failed")
        ).all()
        s.commit()
    if claimed:
        mail.album_ready(album_id, failed=list(failed))


@dramatiq.actor(queue_name="user-uploads", max_retries=3, min_backoff=50, max_backoff=1000)
def finish(image_id):
    settle(image_id, "done")


@dramatiq.actor(queue_name="user-uploads", max_retries=0)
def gave_up(message_data, retry_info):
    settle(message_data["args"][0], "failed")


def chain(stages, image_id, last=None):
    fetch, shrink, store = stages
    parts = [fetch.message(image_id), shrink.message(), store.message()]
    if last is not None:
        parts.append(last.message())
    return pipeline(parts)


def upload_album(session, album_id):
    ids = session.scalars(select(Image.id).where(Image.album_id == album_id)).all()
    for image_id in ids:
        chain(user_stages, image_id, finish).run()


def reimport(session, image_ids):
    for image_id in image_ids:
        chain(bulk_stages, image_id).run()
