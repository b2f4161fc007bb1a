"""The server database: SQLite (WAL, synchronous=FULL) or PostgreSQL (psycopg 3), migrated by Alembic.

An acknowledgement sent to a kiosk is a promise that the events are stored: every commit is durable
when it returns (SQLite fsyncs its WAL; PostgreSQL's default ``synchronous_commit``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from kiosk.sqlstore import UnitOfWork, sqlite_pragmas, upgrade
from server.keys import Keyring, bind_keyring, ensure_index_key

__all__ = ["Database", "insert_ignore", "migrate", "open_database"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database(UnitOfWork):
    """Sessions on the server database; ``transaction()`` is the unit of work."""

    keyring: Keyring | None = None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name


def migrate(database: Database) -> None:
    """Bring the schema to the newest revision (no-op when it is there)."""
    upgrade(database, MIGRATIONS)


def open_database(
    url: str,
    *,
    keyring: Keyring | None = None,
    pool_size: int = 10,
    max_overflow: int = 20,
    create: bool = True,
) -> Database:
    """Open the database at ``url``; with ``create`` the schema is created or upgraded.

    ``keyring`` seals and opens the personal data (``server.keys``); without it the sealed columns
    cannot be read or written (a migration that finds plain personal rows to encrypt refuses).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        # Several uvicorn workers or a CLI command may write at once: wait for the lock, never fail.
        event.listen(engine, "connect", sqlite_pragmas(busy_timeout_ms=30000, cache_kib=16384))
    database = Database(engine)
    if keyring is not None:
        bind_keyring(engine, keyring)
        database.keyring = keyring
    if create:
        migrate(database)
    if keyring is not None:
        with engine.begin() as connection:
            ensure_index_key(connection, keyring, create=create)
    return database


def insert_ignore(database_dialect: str, table: Any) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the dialect (the same statement on SQLite and PostgreSQL)."""
    if database_dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
