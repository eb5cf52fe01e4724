"""Albums a user uploads, and images: an album's photos, or a legacy image (no album)
that the admin's bulk re-import processes again."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Album(Base):
    __tablename__ = "albums"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_email: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="new")  # free for the learner
    emailed: Mapped[int] = mapped_column(Integer, default=0)  # free for the learner


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    album_id: Mapped[int | None] = mapped_column(ForeignKey("albums.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(200))  # where the original is downloaded from
    status: Mapped[str] = mapped_column(String(16), default="new")  # free for the learner
