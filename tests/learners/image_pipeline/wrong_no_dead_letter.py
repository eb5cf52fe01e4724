"""A group per album and its callback, bounded retries — but nothing handles the photo
that never stores: its chain fails, the group never completes, no email."""
import time

import dramatiq
from dramatiq import group, pipeline
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits import ConcurrentRateLimiter
from sqlalchemy import select, update

from perfkata.katas.image_pipeline.app import CDN_LIMIT, SIZES, db_session, download, image_key, mail, rate_limits, resize, scratch, storage
from perfkata.katas.image_pipeline.models import Album, Image

dramatiq.get_broker().add_middleware(GroupCallbacks(rate_limits))
cdn = ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT, ttl=60_000)


def put_once(key, blob):
    for _ in range(10_000):
        with cdn.acquire(raise_on_failure=False) as ok:
            if ok:
                if not storage.exists(key):
                    storage.put(key, blob)
                return
        time.sleep(0.003)
    raise RuntimeError("no CDN slot in 30 s")


def fetch_(image_id):
    with db_session() as db:
        src = db.scalar(select(Image.source).where(Image.id == image_id))
    scratch.save(f"{image_id}.orig", download(src))
    return image_id


def resize_(image_id):
    orig = scratch.load(f"{image_id}.orig")
    for size in SIZES:
        scratch.save(f"{image_id}.{size}", resize(orig, size))
    return image_id


def store_(image_id):
    for size in SIZES:
        put_once(image_key(image_id, size), scratch.load(f"{image_id}.{size}"))


kw = dict(max_retries=2, min_backoff=200, max_backoff=1000)
u_fetch = dramatiq.actor(fetch_, actor_name="u_fetch", queue_name="uploads", **kw)
u_resize = dramatiq.actor(resize_, actor_name="u_resize", queue_name="uploads", **kw)
u_store = dramatiq.actor(store_, actor_name="u_store", queue_name="uploads", **kw)
b_fetch = dramatiq.actor(fetch_, actor_name="b_fetch", queue_name="bulk", **kw)
b_resize = dramatiq.actor(resize_, actor_name="b_resize", queue_name="bulk", **kw)
b_store = dramatiq.actor(store_, actor_name="b_store", queue_name="bulk", **kw)


@dramatiq.actor(queue_name="uploads", max_retries=3, min_backoff=200, max_backoff=1000)
def u_album_mail(album_id):
    with db_session() as db:
        first = db.execute(update(Album).where(Album.id == album_id, Album.status != "mailed").values(status="mailed")).rowcount
        bad = db.scalars(select(Image.id).where(Image.album_id == album_id, Image.status == "failed")).all()
        db.commit()
    if first == 1:
        mail.album_ready(album_id, failed=list(bad))


def upload_album(session, album_id):
    ids = session.scalars(select(Image.id).where(Image.album_id == album_id)).all()
    g = group(pipeline([u_fetch.message(i), u_resize.message(), u_store.message()]) for i in ids)
    g.add_completion_callback(u_album_mail.message(album_id))
    g.run()


def reimport(session, image_ids):
    for i in image_ids:
        pipeline([b_fetch.message(i), b_resize.message(), b_store.message()]).run()
