"""Sends each image as a dict of its row (id and source) so the fetch stage needs no
query: messages carry data, not ids."""
import time

import dramatiq
from dramatiq import group, pipeline
from dramatiq.message import Message
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


def fetch_(image):
    scratch.save(f"{image['id']}.orig", download(image["source"]))
    return image["id"]


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
u_store = dramatiq.actor(store_, actor_name="u_store", queue_name="uploads", on_retry_exhausted="u_dead", **kw)
b_fetch = dramatiq.actor(fetch_, actor_name="b_fetch", queue_name="bulk", **kw)
b_resize = dramatiq.actor(resize_, actor_name="b_resize", queue_name="bulk", **kw)
b_store = dramatiq.actor(store_, actor_name="b_store", queue_name="bulk", **kw)


@dramatiq.actor(queue_name="uploads", max_retries=0)
def u_dead(message_data, retry_info):
    image_id = message_data["args"][0]
    with db_session() as db:
        db.execute(update(Image).where(Image.id == image_id).values(status="failed"))
        db.commit()
    opts = message_data["options"]
    # pretend the chain's last message succeeded, so the group's barrier counts it
    dramatiq.get_broker().enqueue(
        Message(queue_name="uploads", actor_name="u_noop", args=(image_id,), kwargs={},
                options={k: opts[k] for k in ("group_completion_uuid", "group_completion_callbacks")})
    )


@dramatiq.actor(queue_name="uploads", max_retries=0)
def u_noop(image_id):
    return image_id


@dramatiq.actor(queue_name="uploads", max_retries=3, min_backoff=200, max_backoff=1000)
def u_album_mail(album_id):
    with db_session() as db:
        first = db.execute(update(Album).where(Album.id == album_id, Album.status != "mailed").values(status="mailed")).rowcount
        bad = db.scalars(select(Image.id).where(Image.album_id == album_id, Image.status == "failed")).all()
        db.commit()
    if first == 1:
        mail.album_ready(album_id, failed=list(bad))


def upload_album(session, album_id):
    rows = session.execute(select(Image.id, Image.source).where(Image.album_id == album_id)).all()
    g = group(
        pipeline([u_fetch.message({"id": r.id, "source": r.source}), u_resize.message(), u_store.message()])
        for r in rows
    )
    g.add_completion_callback(u_album_mail.message(album_id))
    g.run()


def reimport(session, image_ids):
    for r in session.execute(select(Image.id, Image.source).where(Image.id.in_(image_ids))):
        pipeline([b_fetch.message({"id": r.id, "source": r.source}), b_resize.message(), b_store.message()]).run()
