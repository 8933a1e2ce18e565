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


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from bot.config import get_settings

    db = tmp_path / "tandem.db"
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_backup_while_writes_happen_is_a_private_consistent_copy(
    cli_database: Path, tmp_path: Path, permissive_umask: None
) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    url = f"sqlite:///{cli_database}"
    upgrade_database(url)
    engine = make_engine(url)
    insert = text(
        "INSERT INTO inbound_event (platform, event_key, chat_id, received_at, payload, status, attempts) "
        "VALUES ('console', :key, 'g', '2026-11-23 10:00:00.000000', '{}', 'done', 1)"
    )
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            with engine.begin() as connection:
                connection.execute(insert, {"key": f"e{n}"})
            written.append(n)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20:  # writes are under way
            threading.Event().wait(0.005)
        result = CliRunner().invoke(main, ["backup", str(tmp_path / "copy.db")], catch_exceptions=False)
    finally:
        stop.set()
        writer.join(10)
        engine.dispose()
    assert result.exit_code == 0, result.output
    copy = tmp_path / "copy.db"
    assert mode(copy) == 0o600
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        keys = [key for (key,) in connection.execute("SELECT event_key FROM inbound_event ORDER BY id")]
    assert 20 <= len(keys) <= len(written)  # a snapshot taken during the writes: a prefix of them
    assert keys == [f"e{i}" for i in range(1, len(keys) + 1)]
    again = CliRunner().invoke(main, ["backup", str(copy)])
    assert again.exit_code != 0 and "已存在" in again.output  # never overwrites


def test_backup_on_postgresql_points_to_pg_dump(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import main
    from bot.config import get_settings

    monkeypatch.setenv("TANDEM_DATABASE_URL", "postgresql+psycopg://tandem@db.example:5432/tandem")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["backup", str(tmp_path / "x.db")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "pg_dump --format=custom" in result.output
    assert not (tmp_path / "x.db").exists()
