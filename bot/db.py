"""Engine and session factory; the embedded SQLite database is upgraded on start.

Nothing here runs at import time: callers build engines from settings.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
PRIVATE = 0o600  # the database holds every project and live sessionWebhook URLs
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# A connection with this execution option set begins a plain (deferred) SQLite transaction: a read
# that never waits for a writer in WAL mode. Everything else begins IMMEDIATE (see _configure_sqlite).
READ_ONLY_OPTION = "tandem_sqlite_read_only"
READ_ONLY = {READ_ONLY_OPTION: True}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other backends and in-memory databases)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a URI filename: left to the operator
    return Path(database)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 whatever the umask (an empty file is an empty SQLite database)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE)
    os.fchmod(fd, PRIVATE)  # O_CREAT's mode is narrowed by the umask, never widened; be explicit anyway
    os.close(fd)


def make_private(path: Path) -> None:
    """Tighten an existing file that others can read or write to 0600, and say so."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, PRIVATE)
        log.warning("%s was readable by other users (mode %o); changed to %o", path, mode, PRIVATE)


def secure_sqlite_files(path: Path) -> None:
    """The database file is created 0600 before SQLite opens it (SQLite then gives its -wal and -shm
    files the database file's mode); files left world-readable by an older version are tightened."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it a moment ago
            create_private_file(path)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        make_private(candidate)


def make_engine(url: str, **kwargs: Any) -> Engine:
    # hide_parameters: a failed statement's error text (logged, kept in inbound_event.error) would
    # otherwise carry its parameters: message text and sessionWebhook URLs with their tokens.
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    path = sqlite_path(url)
    if path is not None:
        secure_sqlite_files(path)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and transactions that SQLAlchemy controls.

    pysqlite's own transaction handling breaks SAVEPOINT and begins transactions lazily, so we
    switch it off and emit BEGIN IMMEDIATE ourselves (the SQLAlchemy docs' recipe). IMMEDIATE takes
    the write lock up front: two threads that read and then write never deadlock on lock upgrade.
    A connection marked `READ_ONLY` begins a deferred transaction instead, which in WAL mode reads
    without ever waiting for a writer (the start-up migration check).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _use_wal(cursor: Any) -> None:
    """Switch a new database to WAL (kept in the file, so later connections find it set).

    The switch needs an exclusive lock, and SQLite answers "database is locked" at once, without its
    busy wait, when processes starting together on a fresh file switch at the same moment: retry.
    """
    for attempt in range(100):
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision, read without taking any lock a writer holds."""
    with engine.connect() as connection:
        connection.execution_options(**READ_ONLY)
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(url: str) -> None:
    """Apply migrations up to head (no-op when already there).

    When the schema is current this only reads (never the write lock: a `tandem jobs run` beside a busy
    `tandem serve` must not wait, nor fail, here). When it is not, the upgrade runs on one connection
    holding the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), and the revision is
    read again under it, so processes starting together wait for each other and upgrade once.
    """
    config = alembic_config(url)
    head = ScriptDirectory.from_config(config).get_current_head()
    engine = make_engine(url)
    try:
        if current_revision(engine) == head:
            return
        with engine.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            current = MigrationContext.configure(connection).get_current_revision()
            if current == head:
                return
            log.info("upgrading database from %s to %s", current, head)
            config.attributes["connection"] = connection  # migrations/env.py runs on it, inside this transaction
            command.upgrade(config, "head")
    finally:
        engine.dispose()


MIGRATION_LOCK = 0x74616E64  # "tand": the advisory lock key racing `tandem db upgrade` runs wait on


def backup_sqlite(url: str, destination: Path) -> int:
    """A consistent copy of the SQLite database at `destination` (0600, created new), taken while others
    write: SQLite's online backup copies one snapshot (in WAL mode writers go on meanwhile). Returns its
    size in bytes. The copy is a single self-contained file (rollback journal, not WAL)."""
    source_path = sqlite_path(url)
    if source_path is None:
        raise ValueError("not a SQLite database file")
    if not source_path.exists():
        raise FileNotFoundError(source_path)
    create_private_file(destination)  # refuses an existing file (FileExistsError)
    try:
        source = sqlite3.connect(source_path)
        target = sqlite3.connect(destination)
        try:
            source.execute("PRAGMA busy_timeout=30000")
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
            check = target.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise RuntimeError(f"the copy failed its check: {check}")
        finally:
            target.close()
            source.close()
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return destination.stat().st_size
