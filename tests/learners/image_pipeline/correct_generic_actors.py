"""Class-based actors (dramatiq.GenericActor); the request enqueues one small message
and the album's group is built inside a job; a dead-letter middleware completes the
album's group for a photo whose store ran out of retries."""

import threading

import dramatiq
from dramatiq import GenericActor, group, pipeline
from dramatiq.message import Message
from dramatiq.middleware import GroupCallbacks, Middleware
from dramatiq.rate_limits import ConcurrentRateLimiter

from perfkata.katas.image_pipeline.app import (
    CDN_LIMIT, SIZES, db_session, download, image_key, mail, rate_limits, resize, scratch,
    storage,
)
from perfkata.katas.image_pipeline.models import Album, Image

SLOTS = ConcurrentRateLimiter(rate_limits, "cdn-slots", limit=CDN_LIMIT)
_pause = threading.Event()


class Stage(GenericActor):
    class Meta:
        abstract = True
        queue_name = "albums"
        max_retries = 3
        min_backoff = 25
        max_backoff = 400


class Fetch(Stage):
    def perform(self, image_id):
        with db_session() as s:
            scratch.save(f"o/{image_id}", download(s.get(Image, image_id).source))


class Resize(Stage):
    def perform(self, image_id):
        original = scratch.load(f"o/{image_id}")
        for size in SIZES:
            scratch.save(f"r/{size}/{image_id}", resize(original, size))


class Store(Stage):
    def perform(self, image_id):
        for size in SIZES:
            key = image_key(image_id, size)
            while True:
                with SLOTS.acquire(raise_on_failure=False) as mine:
                    if mine:
                        if not storage.exists(key):
                            storage.put(key, scratch.load(f"r/{size}/{image_id}"))
                        break
                _pause.wait(0.002)


class BulkImage(GenericActor):
    """The re-import: a whole image per message, on its own queue."""

    class Meta:
        queue_name = "bulk-reimport"
        priority = 10
        max_retries = 3
        min_backoff = 25
        max_backoff = 400

    def perform(self, image_id):
        with db_session() as s:
            original = download(s.get(Image, image_id).source)
        for size in SIZES:
            key = image_key(image_id, size)
            while True:
                with SLOTS.acquire(raise_on_failure=False) as mine:
                    if mine:
                        if not storage.exists(key):
                            storage.put(key, resize(original, size))
                        break
                _pause.wait(0.002)


class AlbumReady(Stage):
    def perform(self, album_id):
        with db_session() as s:
            album = s.get(Album, album_id)
            if album.status == "mailed":
                return
            album.status = "mailed"
            failed = [i.id for i in s.query(Image).filter_by(album_id=album_id, status="failed")]
            s.commit()
        mail.album_ready(album_id, failed)


class StartAlbum(Stage):
    def perform(self, album_id):
        with db_session() as s:
            ids = [i.id for i in s.query(Image).filter_by(album_id=album_id)]
        chains = [
            pipeline([
                Fetch.message(i),
                Resize.message_with_options(args=(i,), pipe_ignore=True),
                Store.message_with_options(args=(i,), pipe_ignore=True),
            ])
            for i in ids
        ]
        g = group(chains)
        g.add_completion_callback(AlbumReady.message(album_id))
        g.run()


class DeadLetters(Middleware):
    """A Store that failed for good: mark the photo, and finish its part of the group."""

    # "after" hooks run in reverse order: this one runs before Retries has decided, so
    # it tells the last attempt by the retries already made
    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or message.actor_name != "Store":
            return
        if message.options.get("retries", 0) < Store.options["max_retries"]:
            return
        image_id = message.args[0]
        with db_session() as s:
            s.get(Image, image_id).status = "failed"
            s.commit()
        callbacks = message.options.get("group_completion_callbacks")
        uuid = message.options.get("group_completion_uuid")
        if uuid:
            broker.enqueue(
                Message(
                    queue_name="albums", actor_name="Skipped", args=(image_id,), kwargs={},
                    options={"group_completion_uuid": uuid, "group_completion_callbacks": callbacks},
                )
            )


class Skipped(Stage):
    def perform(self, image_id):
        return None


broker = dramatiq.get_broker()
broker.add_middleware(GroupCallbacks(rate_limits))
broker.add_middleware(DeadLetters())


def upload_album(session, album_id):
    StartAlbum.send(album_id)


def reimport(session, image_ids):
    for image_id in image_ids:
        BulkImage.send(image_id)
