"""Users and the reports they ask for; a report's file lands in the kata's storage."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    params: Mapped[str] = mapped_column(Text)  # JSON: the period, metrics and filters asked for
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    file_key: Mapped[str] = mapped_column(String(120))
    owner: Mapped[User] = relationship()
