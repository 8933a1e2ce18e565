"""Secrets the application makes for itself and keeps in the database (the dashboard links' signing key).

Generated the first time they are asked for, with the same value for every process: a racing insert
does nothing (`ON CONFLICT DO NOTHING`) and everyone reads the row that won.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base

DASHBOARD_SIGNING_KEY = "dashboard-signing-key"


class AppSecret(Base):
    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


def get_or_create_secret(session: Session, /, *, name: str, now: datetime) -> str:
    """The secret called `name`, made (64 random bytes, URL-safe) and stored if there is none yet."""
    found = session.scalar(select(AppSecret.value).where(AppSecret.name == name))
    if found is not None:
        return found
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(AppSecret)
        .values(name=name, value=secrets.token_urlsafe(64), created_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    value = session.scalar(select(AppSecret.value).where(AppSecret.name == name))
    assert value is not None
    return value
