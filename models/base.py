"""Declarative base, naming convention and the UTC timestamp type."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import DateTime, MetaData, Table, bindparam, insert, inspect, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops tzinfo on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    if TYPE_CHECKING:
        # Every model here maps one Table (SQLAlchemy types `__table__` as any FromClause).
        __table__: ClassVar[Table]
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


def insert_now(session: Session, /, obj: Base) -> None:
    """INSERT a new object's row at once with a plain statement, then attach it as persistent.

    The same row a flush would write (column defaults apply to what was not set), without the
    unit-of-work bookkeeping that costs several times the statement on the hot path; the object is
    then an ordinary persistent instance (its relationships load lazily as usual).
    """
    state = inspect(obj)
    mapper = state.mapper
    table = mapper.local_table
    values = {prop.columns[0].key: state.dict[prop.key] for prop in mapper.column_attrs if prop.key in state.dict}
    row = session.execute(_insert_returning(table), values).one()
    for prop in mapper.column_attrs:
        set_committed_value(obj, prop.key, row._mapping[prop.columns[0]])
    make_transient_to_detached(obj)
    session.add(obj)


@cache
def _insert_returning(table: Any) -> Any:
    return insert(table).returning(*table.c)


def update_now(session: Session, /, obj: Base, values: dict[str, Any]) -> None:
    """UPDATE a persistent object's row at once with a plain statement, and give the object the same
    values without making it dirty (so no flush writes them again)."""
    if not values:
        return
    mapper = inspect(obj).mapper
    columns = {key: mapper.get_property(key).columns[0].key for key in values}
    params = {columns[key]: value for key, value in values.items()}
    session.execute(_update_by_pk(mapper.local_table), {"_pk_": mapper.primary_key_from_instance(obj)[0], **params})
    for key, value in values.items():
        set_committed_value(obj, key, value)


@cache
def _update_by_pk(table: Any) -> Any:
    (pk,) = table.primary_key.columns
    return update(table).where(pk == bindparam("_pk_"))
