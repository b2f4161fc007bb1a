"""The journal database: SQLite in WAL mode with synchronous=FULL, migrated by Alembic, and a unit of work.

Every commit is durable when it returns (``synchronous=FULL`` fsyncs the WAL), which is what lets the
sale write a state *before* the device call it leads to and trust it after a power cut.
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
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Journal", "open_journal"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A second process (sync, diagnostics) may hold the write lock briefly; wait rather than fail.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


class Journal:
    """Sessions on the journal database; ``transaction()`` is the unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def session(self) -> Session:
        """A plain session for reading (the caller closes it)."""
        return self._sessions()

    def integrity_check(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        with self.engine.connect() as connection:
            return str(connection.execute(text("PRAGMA integrity_check")).scalar())

    def head_revision(self) -> str | None:
        """The schema revision the database is at."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def open_journal(path: str | Path, *, migrate: bool = True) -> Journal:
    """Open (and create or upgrade) the journal at ``path``."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{file}", future=True)
    event.listen(engine, "connect", _pragmas)
    journal = Journal(engine)
    if migrate:
        config = _alembic_config(engine)
        head = ScriptDirectory.from_config(config).get_current_head()
        if journal.head_revision() != head:
            command.upgrade(config, "head")
    return journal
