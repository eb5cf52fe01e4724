"""The group holds only each image's first stage (fetch), and each stage .send()s the
next: the group's barrier reaches zero when the album's last download is done, so the
email goes out before its photos are resized and stored (and names no failed photo).
From the learner playtest: the advice must say the group has to hold the whole chain."""

import time

import dramatiq
from dramatiq import group
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits import ConcurrentRateLimiter

from perfkata.katas.image_pipeline.app import (
    CDN_LIMIT, SIZES, db_session, download, image_key, mail, rate_limits, resize, scratch, storage,
)
from perfkata.katas.image_pipeline.models import Album, Image

dramatiq.get_broker().add_middleware(GroupCallbacks(rate_limits))
limiter = ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT)


def build(queue, priority):
    @dramatiq.actor(actor_name=f"{queue}_fetch", queue_name=queue, priority=priority)
    def fetch(image_id):
        with db_session() as s:
            src = s.get(Image, image_id).source
        scratch.save(f"{image_id}-src", download(src))
        resize_it.send(image_id)

    @dramatiq.actor(actor_name=f"{queue}_resize", queue_name=queue, priority=priority)
    def resize_it(image_id):
        src = scratch.load(f"{image_id}-src")
        for size in SIZES:
            scratch.save(f"{image_id}-{size}", resize(src, size))
        store.send(image_id)

    @dramatiq.actor(actor_name=f"{queue}_store", queue_name=queue, priority=priority,
                    max_retries=5, min_backoff=250, max_backoff=4000,
                    on_retry_exhausted=f"{queue}_failed")
    def store(image_id):
        for size in SIZES:
            key = image_key(image_id, size)
            if storage.exists(key):
                continue
            while True:
                with limiter.acquire(raise_on_failure=False) as ok:
                    if ok:
                        storage.put(key, scratch.load(f"{image_id}-{size}"))
                        break
                time.sleep(0.002)

    @dramatiq.actor(actor_name=f"{queue}_failed", queue_name=queue, priority=priority)
    def failed(message_data, retry_info):
        with db_session() as s:
            s.get(Image, message_data["args"][0]).status = "failed"
            s.commit()

    return fetch


album_fetch = build("albums", 0)
bulk_fetch = build("bulk", 100)


@dramatiq.actor(queue_name="albums")
def email_album(album_id):
    with db_session() as s:
        n = s.query(Album).filter_by(id=album_id, emailed=0).update({"emailed": 1})
        s.commit()
        if n == 0:
            return
        failed = sorted(i.id for i in s.query(Image).filter_by(album_id=album_id, status="failed"))
    mail.album_ready(album_id, failed=failed)


def upload_album(session, album_id):
    ids = [i.id for i in session.query(Image).filter_by(album_id=album_id).order_by(Image.id)]
    g = group(album_fetch.message(i) for i in ids)
    g.add_completion_callback(email_album.message(album_id))
    g.run()


def reimport(session, image_ids):
    for image_id in image_ids:
        bulk_fetch.send(image_id)
