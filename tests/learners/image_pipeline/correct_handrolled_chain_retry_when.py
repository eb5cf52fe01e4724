"""No pipeline and no group: each stage .send()s the next (ids only); every photo ends
'stored' or 'failed' (the dead letter), and whoever finishes one claims the album's
email with `UPDATE ... WHERE emailed=0` once all are terminal. retry_when retries
StorageUnavailable only, < 5 times, and the CDN slot is waited for in a loop, so
refusals never reach dramatiq. From the learner playtest (a senior's shape)."""

import time

import dramatiq
from dramatiq.rate_limits import ConcurrentRateLimiter
from sqlalchemy import func

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

TERMINAL = ("stored", "failed")
cdn_slots = ConcurrentRateLimiter(rate_limits, "cdn", limit=CDN_LIMIT)


def only_cdn_hiccups(retries_so_far, exc):
    return isinstance(exc, StorageUnavailable) and retries_so_far < 5


def finish_image(image_id, status):
    """Record the photo's terminal status; the last photo of an album sends the email."""
    s = db_session()
    try:
        img = s.get(Image, image_id)
        img.status = status
        s.commit()
        album_id = img.album_id
        if album_id is None:  # legacy re-import image
            return
        pending = (
            s.query(func.count(Image.id))
            .filter(Image.album_id == album_id, Image.status.notin_(TERMINAL))
            .scalar()
        )
        if pending:
            return
        won = (
            s.query(Album)
            .filter(Album.id == album_id, Album.emailed == 0)
            .update({"emailed": 1, "status": "ready"}, synchronize_session=False)
        )
        s.commit()
        if won != 1:
            return
        failed = [
            row.id
            for row in s.query(Image.id)
            .filter(Image.album_id == album_id, Image.status == "failed")
            .order_by(Image.id)
        ]
    finally:
        s.close()
    mail.album_ready(album_id, failed=failed)


def make_stages(prefix, queue, priority):
    def do_fetch(image_id):
        s = db_session()
        try:
            src = s.get(Image, image_id).source
        finally:
            s.close()
        scratch.save(f"{image_id}/orig", download(src))
        do_resize_actor.send(image_id)

    def do_resize(image_id):
        orig = scratch.load(f"{image_id}/orig")
        for size in SIZES:
            scratch.save(f"{image_id}/{size}", resize(orig, size))
        do_store_actor.send(image_id)

    def do_store(image_id):
        for size in SIZES:
            key = image_key(image_id, size)
            if storage.exists(key):
                continue
            data = scratch.load(f"{image_id}/{size}")
            while True:
                with cdn_slots.acquire(raise_on_failure=False) as got:
                    if got:
                        storage.put(key, data)
                        break
                time.sleep(0.005)
        finish_image(image_id, "stored")

    def dead_letter(message_data, retry_info):
        finish_image(message_data["args"][0], "failed")

    opts = dict(queue_name=queue, priority=priority)
    fetch_actor = dramatiq.actor(do_fetch, actor_name=f"{prefix}_fetch", max_retries=3, **opts)
    do_resize_actor = dramatiq.actor(do_resize, actor_name=f"{prefix}_resize", max_retries=3, **opts)
    do_store_actor = dramatiq.actor(
        do_store,
        actor_name=f"{prefix}_store",
        retry_when=only_cdn_hiccups,
        min_backoff=200,
        max_backoff=10_000,
        on_retry_exhausted=f"{prefix}_dead_letter",
        **opts,
    )
    dramatiq.actor(dead_letter, actor_name=f"{prefix}_dead_letter", **opts)
    return fetch_actor


album_fetch = make_stages("album", "album", 0)
reimport_fetch = make_stages("reimport", "reimport", 50)


def upload_album(session, album_id):
    ids = [i for (i,) in session.query(Image.id).filter_by(album_id=album_id).order_by(Image.id)]
    for image_id in ids:
        album_fetch.send(image_id)


def reimport(session, image_ids):
    for image_id in image_ids:
        reimport_fetch.send(image_id)
