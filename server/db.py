"""The server database: SQLite (WAL, synchronous=FULL) or PostgreSQL (psycopg 3), migrated by Alembic.

An acknowledgement sent to a kiosk is a promise that the events are stored: every commit is durable
when it returns (SQLite fsyncs its WAL; PostgreSQL's default ``synchronous_commit``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "insert_ignore", "migrate", "open_database"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Several uvicorn workers or a CLI command may write at once: wait for the lock, never fail.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Sessions on the server database; ``transaction()`` is the unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def session(self) -> Session:
        """A plain session for reading (the caller closes it)."""
        return self._sessions()

    def head_revision(self) -> str | None:
        """The schema revision the database is at."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(database: Database) -> None:
    """Bring the schema to the newest revision (no-op when it is there)."""
    config = _alembic_config(database.engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    if database.head_revision() != head:
        command.upgrade(config, "head")


def open_database(url: str, *, pool_size: int = 10, max_overflow: int = 20, create: bool = True) -> Database:
    """Open the database at ``url``; with ``create`` the schema is created or upgraded."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    database = Database(engine)
    if create:
        migrate(database)
    return database


def insert_ignore(database_dialect: str, table: Any) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the dialect (the same statement on SQLite and PostgreSQL)."""
    if database_dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
