"""The dataset: a few user albums and a bulk backlog of legacy images (its size is the
kata's size), and the fault plan — which stores fail once, which image never stores.
Every choice comes from the seed, so each grade differs."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from perfkata.katas.image_pipeline.models import Album, Image

SIZES = ("thumb", "medium", "large")
ALBUMS = 3
IMAGES_PER_ALBUM = 6
FLAKY_SHARE = 0.3
# The CDN is busy for a while when one flaky photo's uploads begin: that many of its
# slot requests are refused. More than the 5 retries allowed, so a refusal that counts
# as a retry always uses up the budget its StorageUnavailable needs (seed-independent:
# the verdict must not depend on how the threads happened to contend).
CONTENDED_REFUSALS = 6


@dataclass(frozen=True)
class PipelineData:
    albums: list[dict[str, Any]]
    images: list[dict[str, Any]]  # album photos first, then the legacy backlog
    bulk: list[int]  # the legacy images the admin re-imports (len == size)
    flaky: dict[int, str]  # image -> the size whose first store fails (never the first size)
    doomed: int  # an album photo whose every store fails: it can only be dead-lettered
    contended: int = 0  # a flaky photo whose first CONTENDED_REFUSALS slot requests are refused

    def album_images(self, album_id: int) -> list[int]:
        return [i["id"] for i in self.images if i["album_id"] == album_id]


def image_key(image_id: int, size: str) -> str:
    """Where one size of an image is stored."""
    return f"images/{image_id:06d}/{size}.jpg"


def album_of(photo_id: int) -> int:
    return photo_id // 100


def generate(size: int, seed: int, albums: int = ALBUMS) -> PipelineData:
    rng = random.Random(seed)
    album_rows = [
        {"id": a, "owner_email": f"user{rng.randrange(10**5):05d}@example.org"}
        for a in range(1, albums + 1)
    ]
    photos: list[dict[str, Any]] = [  # album_of(id) == album_id
        {"id": a * 100 + n, "album_id": a, "source": f"upload://{rng.randrange(10**9):09d}"}
        for a in range(1, albums + 1)
        for n in range(1, IMAGES_PER_ALBUM + 1)
    ]
    first_legacy = (albums + 1) * 100
    legacy: list[dict[str, Any]] = [
        {"id": first_legacy + n, "album_id": None, "source": f"legacy://{n}"} for n in range(size)
    ]
    ids: list[int] = [p["id"] for p in photos]
    doomed = rng.choice([i for i in ids if i // 100 != 1])  # never in the first album
    rest = [i for i in ids if i != doomed]
    flaky = {i: rng.choice(SIZES[1:]) for i in rng.sample(rest, round(len(ids) * FLAKY_SHARE))}
    contended = rng.choice(sorted(flaky))  # drawn last: the earlier draws stay as they were
    bulk = [r["id"] for r in legacy]
    return PipelineData(album_rows, photos + legacy, bulk, flaky, doomed, contended)


def load(session: Session, data: PipelineData) -> None:
    session.execute(insert(Album), data.albums)
    session.execute(insert(Image), data.images)
    session.commit()


def original(source: str) -> bytes:
    """The original's bytes: album photos are large, legacy thumbnails small."""
    weight = 64 if source.startswith("upload://") else 4
    return hashlib.sha256(source.encode()).digest() * weight + source.encode()


def resized(data: bytes, size: str) -> bytes:
    """The fake resize: a deterministic function of the original and the size."""
    return size.encode() + b":" + hashlib.sha256(size.encode() + data).digest()


def expected_digest(image: dict[str, Any], size: str) -> str:
    return hashlib.sha256(resized(original(image["source"]), size)).hexdigest()


def expected_files(data: PipelineData, image_ids: list[int]) -> dict[str, str]:
    """The oracle: the sha256 of every size of these images, made without the learner."""
    rows = {i["id"]: i for i in data.images}
    return {image_key(i, size): expected_digest(rows[i], size) for i in image_ids for size in SIZES}
