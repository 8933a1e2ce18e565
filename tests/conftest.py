"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL with TANDEM_TEST_DATABASE_URL),
emptied after every test, and a console chat driver with a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from bot.config import Settings
from bot.db import is_sqlite, make_engine, upgrade_database
from bot.runtime import Runtime, build_runtime
from models import Base
from tests.chat import ConsoleChat, FixedClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TANDEM_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path(tmp_path_factory.mktemp('db')) / 'tandem-test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    if not is_sqlite(database_url):
        fresh = make_engine(database_url)
        with fresh.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        fresh.dispose()
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _empty_database(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))  # a Monday


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url, timezone="Asia/Shanghai")  # type: ignore[call-arg]


@pytest.fixture
def runtime(settings: Settings, engine: Engine, clock: FixedClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock, engine=engine)
    yield rt


@pytest.fixture
def chat(runtime: Runtime, clock: FixedClock) -> ConsoleChat:
    return ConsoleChat(runtime, clock, chat_id="g1")
