"""The reference's actors, but uploads and the re-import share the default queue: the
bulk stages get a lower priority, which only orders the few messages a worker has
prefetched — the album still waits behind the whole backlog."""

import time
from contextlib import contextmanager

import dramatiq
from dramatiq import group, pipeline
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits import ConcurrentRateLimiter
from sqlalchemy import select, update

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
RETRIES = {"max_retries": 3, "min_backoff": 100, "max_backoff": 2000}


@contextmanager
def cdn_slot():
    """Wait for one of the CDN's slots: a refusal is not a failure worth a retry."""
    while True:
        with CDN.acquire(raise_on_failure=False) as acquired:
            if acquired:
                yield
                return
        time.sleep(0.002)


def stages(queue, priority):
    """The same three stages, declared once per queue."""

    @dramatiq.actor(actor_name=f"fetch_{queue}", priority=priority, **RETRIES)
    def fetch(image_id):
        with db_session() as session:
            source = session.get(Image, image_id).source
        scratch.save(f"original/{image_id}", download(source))

    @dramatiq.actor(actor_name=f"resize_{queue}", priority=priority, **RETRIES)
    def resize_all(image_id):
        original = scratch.load(f"original/{image_id}")
        for size in SIZES:
            scratch.save(f"{size}/{image_id}", resize(original, size))

    @dramatiq.actor(
        actor_name=f"store_{queue}",
        priority=priority,
        on_retry_exhausted="image_failed",
        **RETRIES,
    )
    def store(image_id):
        for size in SIZES:
            key = image_key(image_id, size)
            with cdn_slot():
                if not storage.exists(key):  # a retry or a redelivery after a crash
                    storage.put(key, scratch.load(f"{size}/{image_id}"))

    def chain(image_id):
        return pipeline(
            [
                fetch.message(image_id),
                resize_all.message_with_options(args=(image_id,), pipe_ignore=True),
                store.message_with_options(args=(image_id,), pipe_ignore=True),
            ]
        )

    return chain


upload_chain = stages("uploads", priority=0)
bulk_chain = stages("bulk", priority=100)


@dramatiq.actor(max_retries=0)
def image_failed(message_data, retry_info):
    """The dead letter: mark the photo failed, then count it as done in its album's
    group (a group only counts children that succeed), so the email still goes out."""
    image_id = message_data["args"][0]
    with db_session() as session:
        session.execute(update(Image).where(Image.id == image_id).values(status="failed"))
        session.commit()
    options = message_data["options"]
    if "group_completion_uuid" in options:
        image_given_up.send_with_options(
            args=(image_id,),
            group_completion_uuid=options["group_completion_uuid"],
            group_completion_callbacks=options["group_completion_callbacks"],
        )


@dramatiq.actor(max_retries=0)
def image_given_up(image_id):
    """Succeeds, so that GroupCallbacks counts the failed photo's child as finished."""


@dramatiq.actor(**RETRIES)
def album_done(album_id):
    with db_session() as session:
        claimed = session.execute(
            update(Album).where(Album.id == album_id, Album.emailed == 0).values(emailed=1)
        ).rowcount
        failed = session.scalars(
            select(Image.id).where(Image.album_id == album_id, Image.status == "failed")
        ).all()
        session.commit()
    if claimed:  # a second delivery of this message finds the album already claimed
        mail.album_ready(album_id, failed=sorted(failed))


def upload_album(session, album_id):
    image_ids = session.scalars(
        select(Image.id).where(Image.album_id == album_id).order_by(Image.id)
    ).all()
    album = group([upload_chain(i) for i in image_ids])
    album.add_completion_callback(album_done.message(album_id))
    album.run()


def reimport(session, image_ids):
    for image_id in image_ids:
        bulk_chain(image_id).run()
