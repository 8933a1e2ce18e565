"""The SQLite database on disk: private files, a migration check that never waits for a writer, and
upgrades that racing processes do once."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.db import alembic_config, current_revision, make_engine, upgrade_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask (022): files come out world-readable unless created otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_a_new_database_and_its_wal_files_are_private(tmp_path: Path, permissive_umask: None) -> None:
    db = tmp_path / "data" / "tandem.db"
    url = f"sqlite:///{db}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:  # a write: the -wal and -shm files exist while it is open
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            files = [db, db.with_name("tandem.db-wal"), db.with_name("tandem.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_tightened_and_logged(
    tmp_path: Path, permissive_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "tandem.db"
    sqlite3.connect(db).close()
    os.chmod(db, 0o644)
    caplog.set_level(logging.WARNING, logger="bot.db")
    make_engine(f"sqlite:///{db}").dispose()
    assert mode(db) == 0o600
    assert "readable by other users" in caplog.text and str(db) in caplog.text


def test_the_migration_check_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """`tandem jobs run` beside a process holding the write lock: the start-up check only reads."""
    db = tmp_path / "tandem.db"
    url = f"sqlite:///{db}"
    upgrade_database(url)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # someone else's long write transaction
    finished = threading.Event()
    errors: list[BaseException] = []

    def check() -> None:
        try:
            upgrade_database(url)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finished.set()

    threading.Thread(target=check, daemon=True).start()
    try:
        assert finished.wait(5), "the migration check waited for the write lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert errors == []


def test_processes_starting_together_upgrade_once(tmp_path: Path) -> None:
    """Several `tandem` processes on a fresh SQLite file: one upgrades, the others wait and find it done."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def upgrade() -> None:
        start.wait()
        try:
            upgrade_database(url)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head(url)
    finally:
        engine.dispose()
