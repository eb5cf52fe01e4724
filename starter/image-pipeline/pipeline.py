"""Album uploads. The upload request downloads every photo, resizes it to three sizes,
stores each on the CDN and emails the owner — one photo after another, while the user
waits — and the admin's bulk re-import of old images runs through the same path, so a
user's upload waits behind thousands of them.

`perfkata grade` queues a bulk re-import (250 to 2,000 images), then uploads three
albums; the CDN fails now and then, one photo can never be stored, and the grader
counts what was stored, emailed, queued and retried.
"""

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

# TODO: actors for each stage (fetch -> resize -> store), a chain per image, a group per
# album whose completion callback sends the email once; uploads and the re-import on
# separate queues; a rate limit around storage.put; bounded retries; a dead letter.


def process_image(image):
    """Download, resize to every size, store each size. Returns False if a size could
    not be stored after three tries."""
    original = download(image.source)  # TODO: a slow network call inside the request
    for size in SIZES:
        key = image_key(image.id, size)
        for _attempt in range(3):  # TODO: retries right away, while the user waits
            try:
                storage.put(key, resize(original, size))
                break
            except StorageUnavailable:
                continue
        else:
            return False
    return True


def upload_album(session, album_id):
    """The web request: a user uploaded an album."""
    album = session.get(Album, album_id)
    images = session.query(Image).filter_by(album_id=album_id).order_by(Image.id).all()
    failed = []
    for image in images:
        if not process_image(image):  # TODO: every photo, one after another, in the request
            failed.append(image.id)
    mail.album_ready(album.id, failed=failed)


def reimport(session, image_ids):
    """The admin's request: re-process these legacy images (thousands of them)."""
    for image_id in image_ids:
        process_image(session.get(Image, image_id))  # TODO: the same path, the same queue
