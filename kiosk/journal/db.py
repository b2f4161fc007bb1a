"""The journal database: SQLite in WAL mode with synchronous=FULL, migrated by Alembic, and a unit of work.

Every commit is durable when it returns (``synchronous=FULL`` fsyncs the WAL), which is what lets the
sale write a state *before* the device call it leads to and trust it after a power cut.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event, text

from kiosk.sqlstore import UnitOfWork, sqlite_pragmas, upgrade

__all__ = ["Journal", "open_journal"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Journal(UnitOfWork):
    """Sessions on the journal database; ``transaction()`` is the unit of work."""

    def integrity_check(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        with self.engine.connect() as connection:
            return str(connection.execute(text("PRAGMA integrity_check")).scalar())


def open_journal(path: str | Path, *, migrate: bool = True) -> Journal:
    """Open (and create or upgrade) the journal at ``path``."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{file}", future=True)
    # A second process (sync, diagnostics) may hold the write lock briefly; wait rather than fail.
    event.listen(engine, "connect", sqlite_pragmas(busy_timeout_ms=10000))
    journal = Journal(engine)
    if migrate:
        upgrade(journal, MIGRATIONS)
    return journal
