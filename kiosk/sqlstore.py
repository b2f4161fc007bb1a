"""What the kiosk's journal and the central server's database have in common: a unit of work over a
SQLAlchemy engine, SQLite pragmas for durable commits, and Alembic upgrades run from code."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = ["UnitOfWork", "owner_only", "run_migrations", "sqlite_pragmas", "upgrade"]


#: Page cache per connection, KiB. SQLite's default (2 MB) grows with the file on every pooled
#: connection; a kiosk journal reads little, and a bounded cache keeps the process's memory flat.
CACHE_KIB = 512


def owner_only(connection: sqlite3.Connection) -> None:
    """Make a SQLite database file and its -wal/-shm mode 0600 (the journal and server.db hold money
    and personal data). SQLite gives -wal and -shm the database file's own mode, so doing this as the
    connection opens, before WAL is switched on, covers a new file; an older 0644 one is tightened."""
    for _seq, name, path in connection.execute("PRAGMA database_list").fetchall():
        if name != "main" or not path:
            continue
        for file in (path, f"{path}-wal", f"{path}-shm"):
            with contextlib.suppress(OSError):  # not there yet, or not ours to change: leave it
                if os.stat(file).st_mode & 0o077:
                    os.chmod(file, 0o600)


def sqlite_pragmas(busy_timeout_ms: int, cache_kib: int = CACHE_KIB) -> Callable[[sqlite3.Connection, Any], None]:
    """A connect listener: WAL, synchronous=FULL (a commit is on disk when it returns), foreign keys,
    a bounded page cache, and waiting ``busy_timeout_ms`` for another process's write lock instead of failing."""

    def apply(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        owner_only(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        cursor.close()

    return apply


class UnitOfWork:
    """Sessions on one database; ``transaction()`` commits when the block ends, rolls back if it raises."""

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

    def head_revision(self) -> str | None:
        """The schema revision the database is at."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def upgrade(database: UnitOfWork, migrations: Path) -> None:
    """Bring the schema to the newest revision of ``migrations`` (a no-op when it is there)."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["engine"] = database.engine
    if database.head_revision() != ScriptDirectory.from_config(config).get_current_head():
        command.upgrade(config, "head")


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Migrations store the column types of the database (text, bigint), not the model's Python wrappers."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_migrations(context: Any, metadata: MetaData) -> None:
    """The body of an Alembic ``env.py``: migrate the engine ``upgrade`` handed over (or the configured URL)."""
    config = context.config
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
