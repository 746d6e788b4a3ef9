"""Column types and enum base shared by the models."""

import enum
from datetime import UTC, datetime
from typing import Any, Literal, Self

from flask_babel import LazyString
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, Enum, TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class LabelledEnum(enum.StrEnum):
    """A string enum whose members each carry their translated label, given once beside the value
    (``ACTIVE = "active", _l("Active")``) so a member cannot be added without one.  The stored
    value stays the plain string; ``member.label`` is what pages and mails show."""

    _value_: str
    _label: LazyString

    def __new__(cls, value: str, label: LazyString = None) -> Self:
        # Runs once per member, as the class is made: ``Status("active")`` later looks a member
        # up by its value without coming here.  (The default only lets the checker read that call.)
        if label is None:
            raise TypeError(f"{cls.__name__}.{value}: give the member its label")
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> LazyString:
        return self._label


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases.

    PostgreSQL keeps the zone; SQLite keeps naive text, so values are converted to
    UTC on the way in and marked UTC on the way out.  Naive input is refused: a
    time without a zone is a bug waiting to show up one hour off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def string_enum(enum_class: type[enum.Enum], name: str, length: int) -> Enum:
    """A Python enum stored as its values in a VARCHAR with a named CHECK constraint:
    the same on SQLite and PostgreSQL, and a new value needs no ALTER TYPE."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Let alembic's autogenerate write our column types as plain SQLAlchemy types."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
