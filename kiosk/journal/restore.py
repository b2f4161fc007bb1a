"""The technician's two ways to a new journal: restore a backup, or start an empty one.

Neither deletes anything: the journal in place (damaged, foreign, or simply old) is renamed to
``journal.db.set-aside-<UTC time>`` with its WAL files. Both leave the sidecar in state ``reconcile``:
before the kiosk sells again it reconciles the journal with the terminal's last transaction and the
central server's record of this kiosk (``kiosk.sale.reconcile``), so that a sale the backup lacks is
brought back or flagged with what happened to its money.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select

from kiosk.journal.db import Journal, open_journal
from kiosk.journal.guard import JournalGuard
from kiosk.journal.models import JournalEntry, JournalIdentity, OutboxEvent, SaleRecord
from kiosk.journal.sidecar import Sidecar, SidecarRecord, read_sidecar

__all__ = ["BackupInfo", "RestoreError", "Restored", "inspect_backup", "restore_backup", "start_new_journal"]

log = logging.getLogger("kiosk.journal")


class RestoreError(ValueError):
    """The backup cannot be restored; ``message`` says why, in Russian."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BackupInfo:
    """What a backup file holds."""

    path: Path
    sales: int
    journal_id: str | None
    kiosk_id: str | None
    seq: int | None
    newest_sale: str | None


@dataclass(frozen=True)
class Restored:
    """What a restore (or a new journal) did."""

    journal_id: str
    sales: int
    set_aside: Path | None


def _read_only(path: Path) -> sqlite3.Connection:
    # immutable: a backup is never changed by looking at it (no WAL recovery, no -shm file next to it)
    return sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro&immutable=1", uri=True)


def inspect_backup(path: Path, kiosk_id: str) -> BackupInfo:
    """Check a backup file: a sound SQLite journal of this kiosk (``RestoreError`` otherwise)."""
    if not path.is_file():
        raise RestoreError(f"Файла резервной копии {path} нет")
    try:
        db = _read_only(path)
    except sqlite3.Error as exc:
        raise RestoreError(f"Резервная копия {path} не открывается: {exc}") from None
    try:
        check = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
        if check != ["ok"]:
            raise RestoreError(f"Резервная копия {path} повреждена: {'; '.join(check[:3])}")
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"sales", "outbox", "alembic_version"} <= tables:
            raise RestoreError(f"{path} — не журнал продаж киоска")
        sales = int(db.execute("SELECT count(*) FROM sales").fetchone()[0])
        newest = db.execute("SELECT max(created_at) FROM sales").fetchone()[0]
        kiosks = {str(r[0]) for r in db.execute("SELECT DISTINCT kiosk_id FROM sales")}
        identity = None
        if "journal_identity" in tables:
            identity = db.execute("SELECT journal_id, kiosk_id, seq FROM journal_identity WHERE id = 1").fetchone()
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"Резервная копия {path} повреждена: {exc}") from None
    finally:
        db.close()
    owner = str(identity[1]) if identity else next(iter(kiosks)) if len(kiosks) == 1 else None
    if (identity is not None and owner != kiosk_id) or (kiosks and kiosks != {kiosk_id}):
        raise RestoreError(f"Резервная копия {path} — журнал другого киоска ({owner or ', '.join(sorted(kiosks))})")
    return BackupInfo(
        path=path,
        sales=sales,
        journal_id=str(identity[0]) if identity else None,
        kiosk_id=owner,
        seq=int(identity[2]) if identity else None,
        newest_sale=str(newest) if newest else None,
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside(journal_file: Path, now: dt.datetime) -> Path | None:
    """Rename the journal in place (and its WAL files) out of the way; None when there is none."""
    if not journal_file.exists():
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                journal_file.with_name(journal_file.name + suffix).unlink()  # leftovers of a deleted journal
        return None
    target = journal_file.with_name(f"{journal_file.name}.set-aside-{now:%Y%m%dT%H%M%SZ}")
    os.replace(journal_file, target)
    for suffix in ("-wal", "-shm"):
        side = journal_file.with_name(journal_file.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    _fsync(journal_file.parent)
    return target


def _previous(guard: JournalGuard) -> dict[str, object]:
    try:
        record = read_sidecar(guard.sidecar_file)
    except (OSError, ValueError):
        return {}
    return {"previous_journal": record.journal_id, "previous_seq": record.seq}


def _seal(journal: Journal, guard: JournalGuard, origin: str) -> SidecarRecord:
    """A fresh sidecar for ``journal`` in state ``reconcile``."""
    with journal.session() as session:
        identity = session.get(JournalIdentity, 1)
        assert identity is not None
        acked = session.scalar(select(func.max(OutboxEvent.id)).where(OutboxEvent.acked_at.is_not(None))) or 0
        record = SidecarRecord(
            journal_id=identity.journal_id,
            kiosk_id=identity.kiosk_id,
            seq=identity.seq,
            acked=acked,
            state="reconcile",
            origin=origin,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
    sidecar = Sidecar(guard.sidecar_file)
    sidecar.create(record)
    sidecar.close()
    return record


def restore_backup(guard: JournalGuard, backup: Path, *, actor: str) -> Restored:
    """Put a verified copy of ``backup`` in place of the journal; the kiosk reconciles it before selling."""
    info = inspect_backup(backup, guard.kiosk_id)
    now = dt.datetime.now(dt.UTC)
    previous = _previous(guard)
    staging = guard.journal_file.with_name(guard.journal_file.name + ".restoring")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    source = _read_only(backup)
    try:
        target = sqlite3.connect(staging)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    _fsync(staging)
    aside = set_aside(guard.journal_file, now)
    os.replace(staging, guard.journal_file)
    _fsync(guard.journal_file.parent)
    journal = open_journal(guard.journal_file, create=False)
    try:
        with journal.transaction() as session:
            identity = session.get(JournalIdentity, 1)
            if identity is None:  # a backup from before identities
                identity = JournalIdentity(
                    id=1, journal_id=str(uuid.uuid4()), kiosk_id=guard.kiosk_id, created_at=now, origin="restore", seq=0
                )
                session.add(identity)
            session.add(
                JournalEntry(
                    at=now,
                    actor=actor,
                    action="journal_restored",
                    detail={
                        "backup": str(backup),
                        "sales": info.sales,
                        "set_aside": str(aside) if aside else None,
                        "backup_seq": info.seq,
                        **previous,
                    },
                )
            )
        record = _seal(journal, guard, "restore")
        with journal.session() as session:
            sales = session.scalar(select(func.count()).select_from(SaleRecord)) or 0
    finally:
        journal.close()
    log.warning("journal restored from %s by %s (%d sales; the one in place set aside as %s); reconciliation "
                "runs before the next sale", backup, actor, sales, aside)  # fmt: skip
    return Restored(record.journal_id, sales, aside)


def start_new_journal(guard: JournalGuard, *, actor: str) -> Restored:
    """An empty journal with a new identity (the old one set aside); reconciled with the terminal first."""
    now = dt.datetime.now(dt.UTC)
    previous = _previous(guard)
    aside = set_aside(guard.journal_file, now)
    guarded = guard.create("init", actor=actor, detail={"set_aside": str(aside) if aside else None, **previous})
    try:
        record = _seal(guarded.journal, guard, "init")
    finally:
        guarded.journal.close()
    log.warning("new empty journal %s started by %s (the one in place set aside as %s)",
                record.journal_id, actor, aside)  # fmt: skip
    return Restored(record.journal_id, 0, aside)
