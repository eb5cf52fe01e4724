"""The shop's tables, in SQLAlchemy 2.x typed declarative style.

Foreign keys are indexed, as a fresh Rails or Django model's would be; the columns the
dashboard filters and sorts orders by (status, created_at) are not: the learner declares
that index in their own file with `Index(...)`, which SQLAlchemy attaches to this
table, so the grader's `create_all` builds it with the tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    region: Mapped[str] = mapped_column(String(20))

    orders: Mapped[list[Order]] = relationship(back_populates="customer", order_by="Order.id")


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(40))


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # paid, shipped, refunded, cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    total_cents: Mapped[int]

    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int]
    price_cents: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


# The indexes the models declare (the foreign keys'): any other index on orders is the
# learner's, declared in their file (data.py drops those at one size).
MODEL_INDEXES = frozenset(str(index.name) for index in Base.metadata.tables["orders"].indexes)
