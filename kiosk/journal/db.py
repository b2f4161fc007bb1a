"""The journal database: SQLite in WAL mode with synchronous=FULL, migrated by Alembic, and a unit of work.

Every commit is durable when it returns (``synchronous=FULL`` fsyncs the WAL), which is what lets the
sale write a state *before* the device call it leads to and trust it after a power cut.

Every transaction that changes something also bumps ``journal_identity.seq`` (same transaction), and
once it is committed the journal's sidecar (``kiosk.journal.sidecar``) records that number: the
guard compares the two at start-up. A write the database cannot make (disk full, read-only, I/O
error, a damaged file) raises ``JournalWriteError``, so the sale can tell "the journal failed" from
its own errors and keep the money safe.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from kiosk.journal.sidecar import Sidecar, SidecarError
from kiosk.sqlstore import UnitOfWork, sqlite_pragmas, upgrade

__all__ = ["Journal", "JournalWriteError", "open_journal"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_BUMP = text("UPDATE journal_identity SET seq = seq + 1 WHERE id = 1 RETURNING seq")


class JournalWriteError(OSError):
    """The journal could not be read or written (disk full, read-only, I/O error, damaged file)."""


def _journal_failure(exc: BaseException) -> bool:
    """Errors of the database file itself, not of the caller's data (an IntegrityError is the caller's)."""
    return isinstance(exc, OperationalError) or type(exc) is DatabaseError


class Journal(UnitOfWork):
    """Sessions on the journal database; ``transaction()`` is the unit of work."""

    def __init__(self, engine: Engine, path: Path, sidecar: Sidecar | None = None) -> None:
        super().__init__(engine)
        self.path = path
        #: receives the sequence of every commit (None: not guarded, e.g. unit tests on a scratch file)
        self.sidecar = sidecar
        self._sidecar_failed = False

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises.

        A transaction that wrote anything bumps the journal's sequence before it commits; the sidecar
        learns the new number after the commit. ``JournalWriteError`` when the database fails.
        """
        seq: int | None = None
        try:
            with self._sessions() as session, session.begin():
                yield session
                session.flush()
                if session.connection().connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                    seq = session.execute(_BUMP).scalar()
        except (OperationalError, DatabaseError) as exc:
            if not _journal_failure(exc):
                raise
            raise JournalWriteError(f"journal {self.path.name}: {exc.orig if exc.orig is not None else exc}") from exc
        except sqlite3.DatabaseError as exc:  # raised by the driver outside SQLAlchemy's wrapping
            raise JournalWriteError(f"journal {self.path.name}: {exc}") from exc
        if seq is not None and self.sidecar is not None:
            self._record(seq)

    def _record(self, seq: int) -> None:
        """The commit is durable; a sidecar that lags behind is tolerated by the guard (journal ahead)."""
        assert self.sidecar is not None
        try:
            self.sidecar.committed(seq)
        except (OSError, SidecarError) as exc:
            if not self._sidecar_failed:
                log.error("journal sidecar %s not updated (the journal is ahead of it now): %s", self.sidecar.path, exc)
            self._sidecar_failed = True
        else:
            self._sidecar_failed = False

    def integrity_check(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        with self.engine.connect() as connection:
            return str(connection.execute(text("PRAGMA integrity_check")).scalar())

    def quick_check(self) -> str:
        """SQLite's quick check (no index cross-check): "ok" when the file is sound."""
        with self.engine.connect() as connection:
            rows = connection.execute(text("PRAGMA quick_check")).scalars().all()
        return "; ".join(str(r) for r in rows[:5])

    def close(self) -> None:
        """Release the connections and the sidecar."""
        super().close()
        if self.sidecar is not None:
            self.sidecar.close()


def open_journal(
    path: str | Path,
    *,
    migrate: bool = True,
    sidecar: Sidecar | None = None,
    create: bool = True,
    connection_factory: type[sqlite3.Connection] | None = None,
) -> Journal:
    """Open (and create or upgrade) the journal at ``path``.

    ``create=False`` never makes a new file (the guard opens an existing journal that way);
    ``connection_factory`` is a ``sqlite3.Connection`` subclass (the fault tests fail writes with it).
    """
    file = Path(path)
    if create:
        file.parent.mkdir(parents=True, exist_ok=True)
    # A URI filename, so that ``mode=rw`` can refuse to create a missing file.
    url = f"sqlite:///file:{quote(str(file.absolute()))}?mode={'rwc' if create else 'rw'}&uri=true"
    connect_args: dict[str, object] = {}
    if connection_factory is not None:
        connect_args["factory"] = connection_factory
    engine = create_engine(url, future=True, connect_args=connect_args)
    # A second process (sync, diagnostics) may hold the write lock briefly; wait rather than fail.
    event.listen(engine, "connect", sqlite_pragmas(busy_timeout_ms=10000))
    journal = Journal(engine, file, sidecar)
    if migrate:
        upgrade(journal, MIGRATIONS)
    return journal
