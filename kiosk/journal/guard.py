"""The journal guard: the kiosk sells only on the journal its own records say it sells on.

Before any command that uses the journal (``run``, ``demo``, ``journal``, ``sync``, ``diag``) the
guard checks, in this order:

1. the data directory is there and writable (a real write and fsync of a probe file: root ignores
   permission bits, a read-only mount does not), and has at least ``[data] min_free_mb`` free;
2. the journal file exists where the sidecar (``kiosk.journal.sidecar``) says a journal has been —
   a kiosk that has sold before never starts a new empty journal by itself;
3. ``PRAGMA quick_check`` passes and the file is a journal (its tables and its identity row);
4. the journal's id and kiosk agree with the sidecar, and its change sequence is not behind it
   (one ahead is the crash window between the commit and the sidecar write; more ahead means
   the sidecar missed updates and is caught up; behind means commits were lost);
5. when the central server is reachable, it holds no event of this kiosk newer than the journal's
   acknowledged high-water mark that the journal does not have.

Any disagreement raises ``JournalRefusedError`` with a code, an English line for the log and a
Russian reason for the technician. A new journal is made only when there is no journal, no sidecar
and no sign that the kiosk ever ran (the first start of an installation), or by the technician
(``kiosk.journal.restore``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import errno
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

from kiosk.journal.db import Journal, open_journal
from kiosk.journal.models import JournalIdentity, OutboxEvent
from kiosk.journal.sidecar import Note, Sidecar, SidecarError, SidecarRecord, read_sidecar

__all__ = [
    "EXIT_REFUSED",
    "GuardedJournal",
    "JournalGuard",
    "JournalRefusedError",
    "Refusal",
    "ServerEvents",
    "StoredEvent",
    "data_dir_problem",
    "header_problem",
    "log_refusal",
]

log = logging.getLogger("kiosk.journal")

#: The exit code of every command the guard stopped (sysexits' EX_TEMPFAIL: "try again later").
#: systemd restarts the UI; a headless command just ends with it.
EXIT_REFUSED = 75


class Refusal(enum.StrEnum):
    """Why the guard refused the journal (codes; ``JournalRefusedError.reason`` says it in Russian)."""

    DATA_DIR_UNUSABLE = "data_dir_unusable"
    READ_ONLY = "read_only"
    DISK_FULL = "disk_full"
    JOURNAL_MISSING = "journal_missing"
    JOURNAL_EMPTY = "journal_empty"
    JOURNAL_CORRUPT = "journal_corrupt"
    NOT_THIS_JOURNAL = "not_this_journal"
    OTHER_KIOSK = "other_kiosk"
    JOURNAL_BEHIND = "journal_behind"
    SIDECAR_MISSING = "sidecar_missing"
    SIDECAR_UNREADABLE = "sidecar_unreadable"
    SERVER_AHEAD = "server_ahead"
    UNRECONCILED = "unreconciled"
    ALREADY_SOLD = "already_sold"


#: What the technician does about each refusal (shown under the reason on the journal tile).
REMEDY = {
    Refusal.DATA_DIR_UNUSABLE: "Проверьте каталог данных в настройках ([data] dir) и права на него.",
    Refusal.READ_ONLY: "Проверьте диск (файловая система могла перемонтироваться только для чтения после ошибок).",
    Refusal.DISK_FULL: "Освободите место на диске (старые журналы работы, резервные копии), киоск проверит снова.",
    Refusal.JOURNAL_MISSING: "Восстановите журнал из резервной копии: osago-kiosk journal restore КОПИЯ.",
    Refusal.JOURNAL_EMPTY: "Восстановите журнал из резервной копии: osago-kiosk journal restore КОПИЯ.",
    Refusal.JOURNAL_CORRUPT: "Восстановите журнал из резервной копии: osago-kiosk journal restore КОПИЯ.",
    Refusal.NOT_THIS_JOURNAL: "Верните файл журнала этого киоска или восстановите его из резервной копии.",
    Refusal.OTHER_KIOSK: "Верните файл журнала этого киоска или проверьте [kiosk] id в настройках.",
    Refusal.JOURNAL_BEHIND: "Верните последний файл журнала или восстановите из копии (киоск сверит её с сервером).",
    Refusal.SIDECAR_MISSING: "Если это верный журнал: osago-kiosk journal restore <этот файл>.",
    Refusal.SIDECAR_UNREADABLE: "Если журнал верный: osago-kiosk journal restore <этот файл>.",
    Refusal.SERVER_AHEAD: "Восстановите журнал из копии: киоск сверит её с сервером и вернёт недостающие продажи.",
    Refusal.UNRECONCILED: "Проверьте связь с центральным сервером и терминалом; киоск повторит сверку.",
    Refusal.ALREADY_SOLD: "Восстановите журнал из копии или начните новый: osago-kiosk journal init --confirm.",
}


class JournalRefusedError(Exception):
    """The guard will not let the kiosk sell on this journal."""

    def __init__(self, code: Refusal, reason: str, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        #: the reason in Russian, for the technician's journal tile
        self.reason = reason
        #: the same in English, for the log
        self.detail = detail

    @property
    def remedy(self) -> str:
        """What the technician does, in Russian."""
        return REMEDY[self.code]


def log_refusal(exc: JournalRefusedError, command: str) -> int:
    """The one log line of a refusal; returns the exit code."""
    log.error("journal refused [%s]: %s — no sale on it; %s exits %d", exc.code.value, exc.detail, command,
              EXIT_REFUSED)  # fmt: skip
    return EXIT_REFUSED


@dataclass(frozen=True)
class StoredEvent:
    """An event of this kiosk as the central server holds it."""

    event_id: str
    kind: str
    sale_id: str | None
    created_at: dt.datetime
    payload: dict[str, Any]


#: The server's events of this kiosk created at or after a moment (all when None), at most ``limit``,
#: oldest first; None when no server is configured or it cannot be reached now.
ServerEvents = Callable[[dt.datetime | None, int], Sequence[StoredEvent] | None]


@dataclass
class GuardedJournal:
    """A journal that passed the guard."""

    journal: Journal
    record: SidecarRecord
    #: a new journal was made (first start of an installation)
    created: bool = False
    #: an older journal without an identity was given one
    adopted: bool = False
    #: sale outcomes the journal could not record (recovery applies them)
    notes: tuple[Note, ...] = field(default=())

    @property
    def needs_reconcile(self) -> bool:
        """A restored journal that is not yet reconciled with the terminal and the server."""
        return self.record.state == "reconcile"


def _free_mb(free: int) -> str:
    return f"{free // (1024 * 1024)}"


def data_dir_problem(
    data_dir: Path, min_free_bytes: int, *, disk_usage: Callable[[Path], Any] = shutil.disk_usage
) -> JournalRefusedError | None:
    """Whether the data directory can take the journal's writes now (a probe write, then free space)."""
    if not data_dir.is_dir():
        return JournalRefusedError(
            Refusal.DATA_DIR_UNUSABLE, f"Нет каталога данных {data_dir}", f"data directory {data_dir} missing"
        )
    probe = data_dir / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                probe.unlink()
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return JournalRefusedError(
                Refusal.READ_ONLY,
                f"Каталог данных {data_dir} доступен только для чтения: журнал продаж нельзя записать",
                f"data directory {data_dir} is not writable: {exc.strerror}",
            )
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return JournalRefusedError(
                Refusal.DISK_FULL,
                f"Диск каталога данных {data_dir} заполнен: журнал продаж нельзя записать",
                f"data directory {data_dir} is full: {exc.strerror}",
            )
        return JournalRefusedError(
            Refusal.DATA_DIR_UNUSABLE,
            f"Каталог данных {data_dir} недоступен: {exc.strerror}",
            f"data directory {data_dir} unusable: {exc}",
        )
    free = int(disk_usage(data_dir).free)
    if free < min_free_bytes:
        return JournalRefusedError(
            Refusal.DISK_FULL,
            f"На диске осталось {_free_mb(free)} МБ, нужно не меньше {_free_mb(min_free_bytes)} МБ: "
            "журнал продаж может не записать продажу",
            f"{free} bytes free in {data_dir}, the minimum is {min_free_bytes}",
        )
    return None


def header_problem(header: bytes) -> str | None:
    """What is wrong with the first 100 bytes of an SQLite file, or None (the fixed fields of the format).

    SQLite reads page 1 from the WAL when the WAL holds it, so a garbled header in the main file can go
    unnoticed until a checkpoint or a lost WAL; the guard looks at the file itself.
    """
    if len(header) < 100:
        return "файл журнала обрезан: нет заголовка базы данных"
    if header[:16] != b"SQLite format 3\0":
        return "повреждён заголовок файла журнала (это не база данных SQLite)"
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or header[18] not in (1, 2) or header[19] not in (1, 2):
        return "повреждён заголовок файла журнала (размер страницы, версия формата)"
    if header[21:24] != bytes((64, 32, 32)):
        return "повреждён заголовок файла журнала (служебные поля)"
    return None


def _inspect(path: Path) -> tuple[str, dict[str, Any]]:
    """Look at an existing file without changing it: ``("ok", facts)`` or ``(problem, {})``.

    Read-only on purpose: a read-write connection that closes last checkpoints the WAL into the main
    file, which would write over a damaged journal (the evidence the technician needs) or make it worse.
    """
    try:
        with path.open("rb") as raw:
            problem = header_problem(raw.read(100))
    except OSError as exc:
        return f"не читается: {exc.strerror}", {}
    if problem is not None:
        return problem, {}
    try:
        db = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return f"не открывается: {exc}", {}
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            return "проверка целостности не пройдена: " + "; ".join(rows[:3]), {}
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        facts: dict[str, Any] = {"tables": tables}
        if "journal_identity" in tables:
            row = db.execute(
                "SELECT journal_id, kiosk_id, seq, created_at FROM journal_identity WHERE id = 1"
            ).fetchone()
            facts["identity"] = row
        if "sales" in tables:
            facts["sales"] = db.execute("SELECT count(*) FROM sales").fetchone()[0]
        if "outbox" in tables:
            facts["acked"] = db.execute(
                "SELECT coalesce(max(id), 0) FROM outbox WHERE acked_at IS NOT NULL"
            ).fetchone()[0]
        return "ok", facts
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "not a database" in text:
            return "файл не является базой данных SQLite (повреждён заголовок или содержимое)", {}
        return f"файл повреждён: {text}", {}
    finally:
        db.close()


class JournalGuard:
    """Verifies (and on first start creates) the journal of one kiosk."""

    def __init__(
        self,
        *,
        data_dir: Path,
        journal_file: Path,
        sidecar_file: Path,
        kiosk_id: str,
        min_free_bytes: int,
        evidence: Sequence[Path] = (),
        server_events: ServerEvents | None = None,
        disk_usage: Callable[[Path], Any] = shutil.disk_usage,
        connection_factory: type[sqlite3.Connection] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.journal_file = journal_file
        self.sidecar_file = sidecar_file
        self.kiosk_id = kiosk_id
        self.min_free_bytes = min_free_bytes
        #: files only a kiosk that has run leaves behind (the default personal-data key, sync state)
        self.evidence = tuple(evidence)
        self.server_events = server_events
        self.disk_usage = disk_usage
        self.connection_factory = connection_factory

    # -- the checks -----------------------------------------------------------------------------
    def open(self, *, create: bool = True) -> GuardedJournal | None:
        """The verified journal, migrated and recording into its sidecar.

        ``create``: on the first start of an installation make the journal (else None is returned:
        there is no journal yet, and that is fine). Raises ``JournalRefusedError``.
        """
        if not create and not self.data_dir.exists() and not self.sidecar_file.exists():
            return None  # nothing installed yet, and nothing to create now
        if create and not self.data_dir.exists():
            try:
                self.data_dir.mkdir(parents=True, mode=0o700)
            except OSError as exc:
                raise JournalRefusedError(
                    Refusal.DATA_DIR_UNUSABLE,
                    f"Каталог данных {self.data_dir} не создаётся: {exc.strerror}",
                    f"cannot create {self.data_dir}: {exc}",
                ) from None
        problem = data_dir_problem(self.data_dir, self.min_free_bytes, disk_usage=self.disk_usage)
        if problem is not None:
            raise problem
        sidecar = self._sidecar()
        if not self.journal_file.exists() or (self.journal_file.stat().st_size == 0 and sidecar is None):
            return self._no_journal(sidecar, create=create)
        if self.journal_file.stat().st_size == 0:
            raise self._refused(
                Refusal.JOURNAL_EMPTY,
                f"Файл журнала продаж {self.journal_file} пуст (обрезан), а киоск уже продавал "
                f"(вторая запись: {sidecar.seq if sidecar else '?'} изменений)",
                f"{self.journal_file} is empty while the sidecar records {sidecar.seq if sidecar else '?'} changes",
            )
        state, facts = _inspect(self.journal_file)
        if state != "ok":
            raise self._refused(
                Refusal.JOURNAL_CORRUPT, f"Журнал продаж повреждён: {state}", f"{self.journal_file}: {state}"
            )
        if "sales" not in facts["tables"] or "alembic_version" not in facts["tables"]:
            raise self._refused(
                Refusal.JOURNAL_EMPTY if sidecar is not None else Refusal.JOURNAL_CORRUPT,
                f"Файл {self.journal_file} — не журнал продаж (в нём нет таблиц журнала)",
                f"{self.journal_file} has no journal tables",
            )
        identity = facts.get("identity")
        if identity is None:
            if sidecar is not None:
                raise self._refused(
                    Refusal.NOT_THIS_JOURNAL,
                    "У файла журнала нет идентификатора, а вторая запись относится к журналу "
                    f"{sidecar.journal_id[:8]}: это не тот журнал",
                    f"{self.journal_file} has no identity, the sidecar names journal {sidecar.journal_id}",
                )
            return self._adopt()
        journal_id, kiosk_id, seq, _created = identity
        if sidecar is None and int(seq) <= 2 and not facts.get("sales") and not facts.get("acked"):
            # The first start stopped between making the journal and its sidecar: nothing was sold on it.
            log.warning("journal %s has no sidecar but holds nothing yet: sidecar written", journal_id)
            return self._finish_creation(journal_id, kiosk_id)
        if sidecar is None:
            raise self._refused(
                Refusal.SIDECAR_MISSING,
                f"Нет второй записи журнала ({self.sidecar_file}): нельзя проверить, что журнал полный",
                f"sidecar {self.sidecar_file} missing for journal {journal_id} at change {seq}",
            )
        self._compare(sidecar, journal_id, kiosk_id, int(seq))
        journal = self._open_existing()
        record = self._catch_up(journal, sidecar, int(seq))
        guarded = GuardedJournal(journal, record, notes=record.notes)
        if record.state == "ok":
            try:
                self._check_server(journal)
            except BaseException:
                journal.close()
                raise
        return guarded

    def check(self) -> JournalRefusedError | None:
        """Verify without keeping anything open (the out-of-service screen rechecks with this)."""
        try:
            guarded = self.open(create=False)
        except JournalRefusedError as exc:
            return exc
        if guarded is not None:
            guarded.journal.close()
        return None

    def _refused(self, code: Refusal, reason: str, detail: str) -> JournalRefusedError:
        return JournalRefusedError(code, reason, detail)

    def _sidecar(self) -> SidecarRecord | None:
        try:
            return read_sidecar(self.sidecar_file)
        except FileNotFoundError:
            return None
        except SidecarError as exc:
            raise self._refused(
                Refusal.SIDECAR_UNREADABLE,
                f"Вторая запись журнала ({self.sidecar_file}) повреждена",
                str(exc),
            ) from None
        except OSError as exc:
            raise self._refused(
                Refusal.SIDECAR_UNREADABLE,
                f"Вторая запись журнала ({self.sidecar_file}) не читается: {exc.strerror}",
                f"{self.sidecar_file}: {exc}",
            ) from None

    def _compare(self, sidecar: SidecarRecord, journal_id: str, kiosk_id: str, seq: int) -> None:
        if journal_id != sidecar.journal_id:
            raise self._refused(
                Refusal.NOT_THIS_JOURNAL,
                f"Это другой журнал: его номер {journal_id[:8]}, а вторая запись относится к {sidecar.journal_id[:8]}",
                f"journal {journal_id} is not the sidecar's journal {sidecar.journal_id}",
            )
        if kiosk_id != self.kiosk_id:
            raise self._refused(
                Refusal.OTHER_KIOSK,
                f"Журнал принадлежит киоску {kiosk_id}, а этот киоск — {self.kiosk_id}",
                f"journal of kiosk {kiosk_id}, this is {self.kiosk_id}",
            )
        if seq < sidecar.seq:
            raise self._refused(
                Refusal.JOURNAL_BEHIND,
                f"В журнале нет последних записей: в журнале {seq} изменений, во второй записи {sidecar.seq}. "
                "Журнал подменён более старой копией или потерял записи",
                f"journal {journal_id} is at change {seq}, the sidecar saw {sidecar.seq}: commits were lost",
            )

    def _open_existing(self) -> Journal:
        try:
            return open_journal(
                self.journal_file,
                create=False,
                sidecar=Sidecar(self.sidecar_file),
                connection_factory=self.connection_factory,
            )
        except Exception as exc:  # a migration on a file that passed quick_check still failed
            raise self._refused(
                Refusal.JOURNAL_CORRUPT, f"Журнал продаж не открывается: {exc}", f"{self.journal_file}: {exc}"
            ) from None

    def _catch_up(self, journal: Journal, sidecar: SidecarRecord, seq: int) -> SidecarRecord:
        """The sidecar learns the journal's sequence if it lags (the crash window, or missed writes)."""
        assert journal.sidecar is not None
        if seq > sidecar.seq + 1:
            log.warning("journal sidecar was %d changes behind the journal (%d < %d): caught up",
                        seq - sidecar.seq, sidecar.seq, seq)  # fmt: skip
        if seq == sidecar.seq:
            return sidecar
        try:
            return journal.sidecar.update(lambda r: dataclasses.replace(r, seq=seq))
        except (OSError, SidecarError) as exc:
            journal.close()
            raise self._refused(
                Refusal.SIDECAR_UNREADABLE,
                f"Вторая запись журнала ({self.sidecar_file}) не записывается: {exc}",
                f"sidecar {self.sidecar_file} not writable: {exc}",
            ) from None

    def _check_server(self, journal: Journal) -> None:
        """The server holds no event of this kiosk, newer than the journal's high-water mark, that the journal lacks."""
        if self.server_events is None:
            return
        with journal.session() as session:
            identity = session.get(JournalIdentity, 1)
            newest_acked = session.scalar(
                select(func.max(OutboxEvent.created_at)).where(OutboxEvent.acked_at.is_not(None))
            )
            since = max(d for d in (newest_acked, identity.created_at if identity else None) if d is not None)
            events = self.server_events(since, 1000)
            if events is None:
                log.info("journal check against the central server skipped: not configured or unreachable")
                return
            ids = [e.event_id for e in events]
            known = set(session.scalars(select(OutboxEvent.event_id).where(OutboxEvent.event_id.in_(ids))).all())
        missing = [e for e in events if e.event_id not in known]
        if missing:
            raise self._refused(
                Refusal.SERVER_AHEAD,
                f"На центральном сервере есть события этого киоска, которых нет в журнале ({len(missing)}, "
                f"последнее от {missing[-1].created_at:%d.%m.%Y %H:%M} UTC): журнал старее данных сервера",
                f"the server holds {len(missing)} events of this kiosk the journal lacks (since {since.isoformat()})",
            )

    # -- no journal: first start, or a loss ---------------------------------------------------------
    def _no_journal(self, sidecar: SidecarRecord | None, *, create: bool) -> GuardedJournal | None:
        if sidecar is not None:
            raise self._refused(
                Refusal.JOURNAL_MISSING,
                f"Файла журнала продаж {self.journal_file} нет, хотя киоск уже продавал "
                f"(вторая запись: журнал {sidecar.journal_id[:8]}, {sidecar.seq} изменений)",
                f"{self.journal_file} missing; the sidecar records journal {sidecar.journal_id} "
                f"at change {sidecar.seq}",
            )
        traces = [str(p) for p in self.evidence if p.exists()]
        if traces:
            raise self._refused(
                Refusal.ALREADY_SOLD,
                f"Журнала продаж нет, но киоск уже работал (есть {', '.join(traces)}): "
                "новый пустой журнал киоск сам не заводит",
                f"no journal and no sidecar, but the kiosk has run before ({', '.join(traces)})",
            )
        if self.server_events is not None:
            held = self.server_events(None, 1)
            if held:
                raise self._refused(
                    Refusal.ALREADY_SOLD,
                    "Журнала продаж нет, а центральный сервер хранит события этого киоска: "
                    "новый пустой журнал киоск сам не заводит",
                    "no journal and no sidecar, but the central server holds events of this kiosk",
                )
        if not create:
            return None
        with contextlib.suppress(FileNotFoundError):
            self.journal_file.unlink()  # an empty file left by an interrupted first start
        guarded = self.create("install")
        # The file's name only: a log line is read for words ("ready"), and a path may contain any.
        log.warning("journal %s created as %s (first start of this installation)", guarded.record.journal_id,
                    self.journal_file.name)  # fmt: skip
        return guarded

    def _finish_creation(self, journal_id: str, kiosk_id: str) -> GuardedJournal:
        if kiosk_id != self.kiosk_id:
            raise self._refused(
                Refusal.OTHER_KIOSK,
                f"Журнал принадлежит киоску {kiosk_id}, а этот киоск — {self.kiosk_id}",
                f"journal of kiosk {kiosk_id}, this is {self.kiosk_id}",
            )
        journal = self._open_existing()
        with journal.session() as session:
            identity = session.get(JournalIdentity, 1)
            assert identity is not None
            record = SidecarRecord(
                journal_id=journal_id,
                kiosk_id=kiosk_id,
                seq=identity.seq,
                origin=identity.origin,
                created_at=identity.created_at.isoformat(timespec="seconds"),
            )
        assert journal.sidecar is not None
        journal.sidecar.create(record)
        return GuardedJournal(journal, record, created=True)

    def create(self, origin: str, *, actor: str | None = None, detail: dict[str, Any] | None = None) -> GuardedJournal:
        """Make a new journal with a fresh identity and its sidecar (first start, or ``journal init``)."""
        journal = open_journal(self.journal_file, connection_factory=self.connection_factory)
        return self._give_identity(journal, origin, created=True, actor=actor, detail=detail)

    def _adopt(self) -> GuardedJournal:
        """A journal from before identities (no sidecar yet): give it one, as it is."""
        journal = self._open_existing()
        journal.sidecar = None
        guarded = self._give_identity(journal, "adopt", created=False)
        log.warning("journal %s had no identity yet: adopted as %s", self.journal_file.name, guarded.record.journal_id)
        return dataclasses.replace(guarded, adopted=True)

    def _give_identity(
        self,
        journal: Journal,
        origin: str,
        *,
        created: bool,
        actor: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> GuardedJournal:
        from kiosk.journal.models import JournalEntry

        now = dt.datetime.now(dt.UTC)
        journal_id = str(uuid.uuid4())
        with journal.transaction() as session:
            session.add(
                JournalIdentity(
                    id=1, journal_id=journal_id, kiosk_id=self.kiosk_id, created_at=now, origin=origin, seq=0
                )
            )
            if actor is not None:
                session.add(JournalEntry(at=now, actor=actor, action=f"journal_{origin}", detail=detail))
        with journal.session() as session:
            identity = session.get(JournalIdentity, 1)
            seq = identity.seq if identity else 0
            acked = session.scalar(select(func.max(OutboxEvent.id)).where(OutboxEvent.acked_at.is_not(None))) or 0
        record = SidecarRecord(
            journal_id=journal_id,
            kiosk_id=self.kiosk_id,
            seq=seq,
            acked=acked,
            origin=origin,
            created_at=now.isoformat(timespec="seconds"),
        )
        sidecar = Sidecar(self.sidecar_file)
        sidecar.create(record)
        journal.sidecar = sidecar
        return GuardedJournal(journal, record, created=created)
