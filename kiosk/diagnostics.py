"""What the technician sees and does: traffic-light checks of every part of the kiosk, and actions.

The same checks serve the diagnostics screen and ``osago-kiosk diag``. A red *blocking* light means
the kiosk must not sell (money could move without a policy coming out); yellow is a warning (paper
near its end, the reader missing, the server behind). Every action is journaled with the technician's
card id (``JournalEntry``), so the insurer can see who printed, closed the day or resolved a sale.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from drivers.payment import Diagnosis, PaymentTerminal, Totals
from drivers.printer import PrintResult, ReceiptPrinter
from kiosk import outbox
from kiosk.documents.slip import slip_document
from kiosk.documents.testpage import TestPageData, testpage_document
from kiosk.insurer import InsurerGateway
from kiosk.journal.db import Journal
from kiosk.journal.guard import JournalRefusedError
from kiosk.journal.models import JournalEntry, OutboxEvent, PaymentAttempt, SaleRecord
from kiosk.journal.sidecar import Note, SidecarError
from kiosk.logs import tail
from kiosk.money import rub
from kiosk.sale.report import sale_rows
from kiosk.sale.states import MONEY_AT_RISK, SaleState
from kiosk.tariffs import TariffEngine

if TYPE_CHECKING:
    from kiosk.sync import SyncReport

__all__ = [
    "BackupResult",
    "BackupTarget",
    "Diagnostics",
    "Light",
    "ServerNotConfiguredError",
    "ServerStatus",
    "SyncRunner",
    "Tile",
    "backup_targets",
    "disk_tile",
    "refused_tiles",
    "verdict",
]

log = logging.getLogger(__name__)

#: Free space below which the journal may not be able to record a sale (the default of ``[data] min_free_mb``).
DISK_RED_BYTES = 200 * 1024 * 1024
DISK_YELLOW_BYTES = 1024 * 1024 * 1024


class Light(enum.StrEnum):
    """A tile's colour."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class Tile:
    """One part of the kiosk: its light, a one-line summary in Russian and the details behind it."""

    key: str
    title: str
    light: Light
    summary: str
    blocking: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``osago-kiosk diag --json``)."""
        return {
            "key": self.key,
            "title": self.title,
            "light": self.light.value,
            "summary": self.summary,
            "blocking": self.blocking,
            "details": self.details,
        }


@dataclass(frozen=True)
class ServerStatus:
    """The central server as the kiosk last reached it."""

    reachable: bool
    #: kiosk clock minus server clock, seconds (positive: the kiosk is ahead)
    clock_skew_seconds: float | None = None
    detail: str = ""
    #: False when there is no server URL or kiosk key (``detail`` says which)
    configured: bool = True


@dataclass(frozen=True)
class BackupResult:
    """A verified copy of the journal."""

    path: Path
    sales: int
    verified: bool
    integrity: str


class ServerNotConfiguredError(LookupError):
    """No central server to talk to (no URL, or no kiosk key): ``reason`` says which, in Russian."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: One sync run (``kiosk.bootstrap.sync_runner``): given a callback per acknowledged batch, returns
#: the report; raises ``ServerNotConfiguredError`` when there is no server to sync with.
SyncRunner = Callable[[Callable[[int], object] | None], "SyncReport"]


@dataclass(frozen=True)
class BackupTarget:
    """A place the journal can be copied to: a mounted removable medium, or the configured fallback."""

    path: Path
    removable: bool
    free_mb: int | None

    @property
    def label(self) -> str:
        """How the technician sees it."""
        kind = "USB-носитель" if self.removable else "Резервная папка"
        free = f", свободно {self.free_mb} МБ" if self.free_mb is not None else ""
        return f"{kind}: {self.path}{free}"


#: the kernel writes space, tab, newline and backslash in mount points as \\ooo
_OCTAL = re.compile(r"\\([0-7]{3})")


def _mount_points(mounts_file: Path) -> list[Path]:
    """Mount points listed in a ``/proc/self/mounts``-format file (octal escapes such as ``\\040`` decoded)."""
    try:
        lines = mounts_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2:
            points.append(Path(_OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[1])))
    return points


def backup_targets(
    media_roots: Iterable[Path],
    fallback: Path,
    *,
    mounts_file: Path = Path("/proc/self/mounts"),
    disk_usage: Callable[[Path], Any] = shutil.disk_usage,
) -> list[BackupTarget]:
    """Removable media mounted under ``media_roots`` (``/media/usb0``, ``/run/media/USER/LABEL``), then the fallback."""
    roots = [root.resolve() for root in media_roots]
    found: list[BackupTarget] = []
    for point in _mount_points(mounts_file):
        if any(point != root and point.is_relative_to(root) for root in roots) and os.access(point, os.W_OK):
            found.append(BackupTarget(point, True, _free_mb(point, disk_usage)))
    found.sort(key=lambda target: str(target.path))
    fallback_free = _free_mb(fallback if fallback.exists() else fallback.parent, disk_usage)
    return [*found, BackupTarget(fallback, False, fallback_free)]


def _free_mb(path: Path, disk_usage: Callable[[Path], Any]) -> int | None:
    try:
        return int(disk_usage(path).free // (1024 * 1024))
    except OSError:
        return None


#: a payment attempt's status as the technician reads it
_PAYMENT_STATUS = {
    "started": "начата, ответа терминала нет",
    "approved": "одобрена, ждёт подтверждения",
    "committed": "проведена",
    "reversed": "отменена, деньги возвращены",
    "declined": "отклонена",
    "unknown": "исход неизвестен",
}


def _payment_line(attempt: PaymentAttempt) -> str:
    status = _PAYMENT_STATUS.get(attempt.status, attempt.status)
    reason = f" ({attempt.result_text})" if attempt.status == "declined" and attempt.result_text else ""
    return f"{rub(attempt.amount)} — {status}{reason}"


def verdict(tiles: list[Tile]) -> tuple[bool, list[str]]:
    """Whether the kiosk can sell, and the blocking reasons if not."""
    reasons = [f"{tile.title}: {tile.summary}" for tile in tiles if tile.blocking]
    return not reasons, reasons


def disk_tile(data_dir: Path, disk_usage: Callable[[Path], Any], red_bytes: int = DISK_RED_BYTES) -> Tile:
    """Free space of the data directory: red (blocking) below ``red_bytes`` (``[data] min_free_mb``)."""
    try:
        usage = disk_usage(data_dir)
    except OSError as exc:
        return Tile(
            "disk", "Диск", Light.RED, f"Каталог данных недоступен: {exc.strerror}", True, {"path": str(data_dir)}
        )
    free_mb = usage.free // (1024 * 1024)
    details = {"free_mb": free_mb, "total_mb": usage.total // (1024 * 1024), "path": str(data_dir)}
    free = f"{free_mb} МБ" if free_mb < 10 * 1024 else f"{free_mb / 1024:.1f} ГБ".replace(".", ",")
    if usage.free < red_bytes:
        return Tile(
            "disk", "Диск", Light.RED, f"Свободно {free_mb} МБ: журнал может не записать продажу", True, details
        )
    if usage.free < max(DISK_YELLOW_BYTES, 2 * red_bytes):
        return Tile("disk", "Диск", Light.YELLOW, f"Свободно {free}", False, details)
    return Tile("disk", "Диск", Light.GREEN, f"Свободно {free}", False, details)


def refused_tiles(
    refusal: JournalRefusedError,
    data_dir: Path,
    *,
    journal_file: Path,
    sidecar_file: Path,
    disk_usage: Callable[[Path], Any] = shutil.disk_usage,
    disk_red_bytes: int = DISK_RED_BYTES,
) -> list[Tile]:
    """The technician's tiles while the journal guard refuses the journal: the journal (red, with the reason
    and what to do) and the disk. The devices are not opened: nothing may be sold."""
    details = {
        "reason_code": refusal.code.value,
        "remedy": refusal.remedy,
        "journal_file": str(journal_file),
        "sidecar_file": str(sidecar_file),
    }
    journal = Tile("database", "Журнал продаж", Light.RED, refusal.reason, True, details)
    return [journal, disk_tile(data_dir, disk_usage, disk_red_bytes)]


def _sidecar_state(journal: Journal) -> str | None:
    if journal.sidecar is None:
        return None
    try:
        return journal.sidecar.read().state
    except (OSError, SidecarError):
        return None


def _sidecar_notes(journal: Journal) -> tuple[Note, ...]:
    if journal.sidecar is None:
        return ()
    try:
        return journal.sidecar.read().notes
    except (OSError, SidecarError):
        return ()


_NOTE_MONEY_RU = {
    "committed": "деньги списаны, полис выдан",
    "reversed": "платёж отменён, деньги не списаны",
    "none": "деньги не списаны",
    "unknown": "исход оплаты неизвестен",
}


def _note_line(note: Note) -> str:
    amount = rub(Decimal(note.amount)) if note.amount else "сумма неизвестна"
    return f"{note.sale_id[:8]}: {amount}, чек {note.receipt_no or '—'} — {_NOTE_MONEY_RU.get(note.money, note.money)}"


class Diagnostics:
    """Checks and technician actions over the kiosk's real devices and journal."""

    def __init__(
        self,
        *,
        kiosk_id: str,
        journal: Journal,
        terminal: PaymentTerminal,
        printer: ReceiptPrinter,
        insurer: InsurerGateway,
        tariffs: TariffEngine,
        data_dir: Path,
        log_path: Path,
        printer_url: str = "",
        reader_status: Callable[[], Any] | None = None,
        server_status: Callable[[], ServerStatus] | None = None,
        sync: SyncRunner | None = None,
        device_lock: threading.RLock | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        zone: dt.tzinfo = dt.UTC,
        disk_usage: Callable[[Path], Any] = shutil.disk_usage,
        disk_red_bytes: int = DISK_RED_BYTES,
    ) -> None:
        self.kiosk_id = kiosk_id
        self.journal = journal
        self.terminal = terminal
        self.printer = printer
        self.insurer = insurer
        self.tariffs = tariffs
        self.data_dir = data_dir
        self.log_path = log_path
        self.printer_url = printer_url
        self.reader_status = reader_status
        self.server_status = server_status
        self.sync = sync
        # Held around every terminal and printer call: the sale holds the same lock while it pays and
        # prints, so a check or a technician action never talks to a device in the middle of a sale.
        self.devices = device_lock or threading.RLock()
        self.clock = clock
        self.zone = zone
        self.disk_usage = disk_usage
        self.disk_red_bytes = disk_red_bytes

    # ------------------------------------------------------------------------------------------
    # checks

    def tiles(self) -> list[Tile]:
        """Every check, in the order of the screen."""
        return [
            self._printer(),
            self._terminal(),
            self._reader(),
            self._server(),
            self._disk(),
            self._database(),
            self._tariffs(),
        ]

    def _printer(self) -> Tile:
        with self.devices:
            status = self.printer.status()
        details = {
            "ready": status.ready,
            "blocking": [c.text for c in status.blocking],
            "warnings": [c.text for c in status.warnings],
            "profile": self.printer.profile.name,
        }
        if not status.ready:
            return Tile("printer", "Принтер", Light.RED, status.summary(), True, details)
        if status.warnings:
            return Tile("printer", "Принтер", Light.YELLOW, status.summary(), False, details)
        return Tile("printer", "Принтер", Light.GREEN, "Готов, бумага есть", False, details)

    def _terminal(self) -> Tile:
        with self.devices:
            status = self.terminal.status()
        with self.journal.session() as session:
            last = session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.id.desc()).limit(1)).first()
            last_result = None if last is None else _payment_line(last)
        details = {
            "ready": status.ready,
            "reason": status.reason_ru,
            "terminal_id": status.terminal_id,
            "software": status.software_version,
            # status byte bit 4 at registration: the kiosk's issue of goods needs vending-machine mode
            "vending_mode": status.vending_mode,
            "last_payment": last_result,
        }
        if not status.ready:
            return Tile("terminal", "Терминал оплаты", Light.RED, f"Не готов: {status.reason_ru}", True, details)
        return Tile("terminal", "Терминал оплаты", Light.GREEN, "Готов", False, details)

    def _reader(self) -> Tile:
        if self.reader_status is None:
            return Tile("cardreader", "Считыватель карт", Light.YELLOW, "Не подключён к этому режиму")
        status = self.reader_status()
        details = {
            "readers": list(status.readers),
            "cards": list(status.cards),
            "reconnects": status.reconnects,
            "last_error": status.last_error,
        }
        if status.ok:
            return Tile(
                "cardreader",
                "Считыватель карт",
                Light.GREEN,
                f"Считыватель: {', '.join(status.readers)}",
                False,
                details,
            )
        # The reader only opens the service mode: its failure does not stop sales.
        return Tile(
            "cardreader",
            "Считыватель карт",
            Light.YELLOW,
            "; ".join(status.problems()) or "Нет считывателя",
            False,
            details,
        )

    def _server(self) -> Tile:
        with self.journal.session() as session:
            pending = (
                session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.acked_at.is_(None))) or 0
            )
        insurer_ok = self.insurer.available()
        status = self.server_status() if self.server_status else None
        details: dict[str, Any] = {"insurer_reachable": insurer_ok, "pending_outbox": pending}
        if status is not None:
            details.update(
                configured=status.configured,
                reachable=status.reachable,
                clock_skew_seconds=status.clock_skew_seconds,
                detail=status.detail,
            )

        def tile(light: Light, summary: str) -> Tile:
            return Tile("server", "Связь со страховщиком", light, summary, light is Light.RED, details)

        if not insurer_ok:
            return tile(
                Light.RED, f"Нет связи: оформление полисов невозможно (доступны заявления); в очереди {pending}"
            )
        if status is not None and not status.configured:
            return tile(Light.YELLOW, f"Центральный сервер не настроен; в очереди {pending}")
        if status is not None and not status.reachable:
            return tile(Light.YELLOW, f"Центральный сервер не отвечает; в очереди {pending}")
        if status is not None and status.clock_skew_seconds is not None and abs(status.clock_skew_seconds) > 60:
            return tile(Light.YELLOW, f"Часы киоска расходятся с сервером на {status.clock_skew_seconds:+.0f} с")
        if pending > 100:
            return tile(Light.YELLOW, f"Не отправлено событий: {pending}")
        return tile(Light.GREEN, f"На связи; в очереди {pending}")

    def _disk(self) -> Tile:
        return disk_tile(self.data_dir, self.disk_usage, self.disk_red_bytes)

    def _database(self) -> Tile:
        if _sidecar_state(self.journal) == "reconcile":
            return Tile(
                "database", "Журнал продаж", Light.RED,
                "Журнал восстановлен и ещё не сверен с терминалом и сервером — перезапустите киоск",
                True, {"revision": self.journal.head_revision()},
            )  # fmt: skip
        notes = _sidecar_notes(self.journal)
        if notes:
            lines = [_note_line(n) for n in notes]
            return Tile(
                "database", "Журнал продаж", Light.RED,
                f"Журнал не записал исход продаж: {len(notes)} — освободите место на диске и перезапустите киоск",
                True, {"unrecorded": lines, "revision": self.journal.head_revision()},
            )  # fmt: skip
        integrity = self.journal.integrity_check()
        with self.journal.session() as session:
            flagged = session.scalars(select(SaleRecord.id).where(SaleRecord.state == SaleState.FLAGGED.value)).all()
            unresolved = session.scalars(
                select(SaleRecord.id).where(SaleRecord.state.in_([s.value for s in MONEY_AT_RISK]))
            ).all()
        details = {
            "integrity": integrity,
            "flagged": list(flagged),
            "unresolved": list(unresolved),
            "revision": self.journal.head_revision(),
        }
        if integrity != "ok":
            return Tile("database", "Журнал продаж", Light.RED, f"Повреждён: {integrity}", True, details)
        if unresolved:
            return Tile(
                "database",
                "Журнал продаж",
                Light.RED,
                f"Незавершённых оплат: {len(unresolved)} — перезапустите киоск",
                True,
                details,
            )
        if flagged:
            return Tile(
                "database", "Журнал продаж", Light.YELLOW, f"Ждут решения техника: {len(flagged)}", False, details
            )
        return Tile("database", "Журнал продаж", Light.GREEN, "Исправен", False, details)

    def _tariffs(self) -> Tile:
        today = self.clock().astimezone(self.zone).date()
        try:
            tariff = self.tariffs.book.for_date(today)
        except LookupError:
            return Tile("tariffs", "Тарифы", Light.RED, "Нет тарифов на сегодня", True)
        details = {
            "version": tariff.version,
            "in_force_from": tariff.effective_from.isoformat(),
            "file": tariff.source_file,
        }
        return Tile(
            "tariffs", "Тарифы", Light.GREEN, f"{tariff.version} с {tariff.effective_from:%d.%m.%Y}", False, details
        )

    # ------------------------------------------------------------------------------------------
    # actions (each journaled with the technician's card id)

    def record(self, actor: str, action: str, detail: dict[str, Any]) -> None:
        """Journal a technician's action (``JournalEntry``: when, the card id, what, the result)."""
        with self.journal.transaction() as session:
            session.add(JournalEntry(at=self.clock(), actor=actor, action=action, detail=detail))

    def test_page(self, actor: str) -> PrintResult:
        """Print the technician's test page (profile, code page, QR, barcode, status)."""
        with self.devices:
            status = self.printer.status()
            data = TestPageData(
                profile=self.printer.profile,
                printed_at=self.clock(),
                kiosk_id=self.kiosk_id[:24],
                printer_url=self.printer_url,
                status=status,
            )
            result = self.printer.print_document(testpage_document(data), precheck=False)
        self.record(actor, "test_page", {"ok": result.ok, "error": result.error})
        return result

    def terminal_diagnosis(self, actor: str) -> Diagnosis:
        """Let the terminal check itself and its host connection."""
        with self.devices:
            result = self.terminal.diagnosis()
        self.record(actor, "terminal_diagnosis", {"ok": result.ok, "result": result.result_text})
        return result

    def end_of_day(self, actor: str) -> tuple[Totals, PrintResult | None]:
        """Close the terminal's batch, print the totals, and report them to the server."""
        with self.devices:
            return self._end_of_day(actor)

    def _end_of_day(self, actor: str) -> tuple[Totals, PrintResult | None]:
        totals = self.terminal.end_of_day()
        lines = [
            f"Киоск {self.kiosk_id}",
            f"Сверка итогов {self.clock().astimezone(self.zone):%d.%m.%Y %H:%M}",
            f"Операций: {totals.count}",
            f"Сумма: {rub(totals.amount)}",
            *(f"{g.card_type}: {g.count} на {rub(g.amount)}" for g in totals.groups if g.count),
            *totals.receipt_lines,
        ]
        printed = None
        try:
            printed = self.printer.print_document(slip_document(lines, title="СВЕРКА ИТОГОВ"))
        except Exception as exc:  # the batch is closed either way; the totals also go to the server
            log.warning("end-of-day totals not printed: %s", exc)
        payload = {
            "ok": totals.ok,
            "count": totals.count,
            "amount": str(totals.amount),
            "groups": [{"card_type": g.card_type, "count": g.count, "amount": str(g.amount)} for g in totals.groups],
            "receipt_range": list(totals.receipt_range) if totals.receipt_range else None,
            "at": self.clock().isoformat(),
        }
        with self.journal.transaction() as session:
            session.add(JournalEntry(at=self.clock(), actor=actor, action="end_of_day", detail=payload))
            outbox.emit(session, "terminal.end_of_day", payload, at=self.clock())
        return totals, printed

    def report_health(self, tiles: list[Tile] | None = None) -> None:
        """Put a ``device.health`` event in the outbox (the operator's dashboard shows it)."""
        tiles = tiles or self.tiles()
        by_key = {tile.key: tile for tile in tiles}
        printer = by_key["printer"].details
        payload = {
            "printer": {
                "ready": printer.get("ready"),
                "warnings": printer.get("warnings"),
                "blocking": printer.get("blocking"),
            },
            "terminal": {
                "ready": by_key["terminal"].details.get("ready"),
                "reason": by_key["terminal"].details.get("reason"),
            },
            "paper_low": bool(printer.get("warnings")),
            "pending_outbox": by_key["server"].details.get("pending_outbox"),
            "tariff_version": by_key["tariffs"].details.get("version"),
            "can_sell": verdict(tiles)[0],
            "lights": {tile.key: tile.light.value for tile in tiles},
        }
        with self.journal.transaction() as session:
            outbox.emit(session, "device.health", payload, at=self.clock())

    def report_health_when_idle(self) -> bool:
        """``report_health`` unless a sale holds the terminal and printer right now (then False: try later).

        Periodic reports must never talk to a device during a payment; the sale's device lock says so.
        """
        if not self.devices.acquire(blocking=False):
            return False
        try:
            self.report_health()
        finally:
            self.devices.release()
        return True

    def last_log_lines(self, count: int = 200, *, actor: str | None = None) -> list[str]:
        """The end of the kiosk's log file (journaled as viewed when a technician asks)."""
        lines = tail(self.log_path, count)
        if actor is not None:
            self.record(actor, "view_log", {"lines": len(lines)})
        return lines

    def last_sales(self, count: int = 50, *, actor: str | None = None) -> list[dict[str, Any]]:
        """The latest sales, newest first, without personal data (journaled when a technician asks)."""
        with self.journal.session() as session:
            rows = sale_rows(session, count)
        if actor is not None:
            self.record(actor, "view_sales", {"sales": len(rows)})
        return rows[::-1]

    def flagged_sales(self) -> list[dict[str, Any]]:
        """Sales waiting for a technician's decision, oldest first (no personal data)."""
        with self.journal.session() as session:
            return sale_rows(session, states=(SaleState.FLAGGED.value,))

    def sync_now(self, actor: str, on_progress: Callable[[int, int], object] | None = None) -> SyncReport:
        """Push the outbox to the central server now; ``on_progress(done, total)`` after each batch."""
        if self.sync is None:
            self.record(actor, "sync_now", {"ok": False, "error": "not configured"})
            raise ServerNotConfiguredError("центральный сервер не настроен")
        with self.journal.session() as session:
            total = outbox.pending_count(session)
        done = 0

        def batch(acknowledged: int) -> None:
            nonlocal done
            done += acknowledged
            if on_progress is not None:
                on_progress(done, max(total, done))

        try:
            report = self.sync(batch)
        except ServerNotConfiguredError as exc:
            self.record(actor, "sync_now", {"ok": False, "error": exc.reason})
            raise
        self.record(
            actor,
            "sync_now",
            {
                "ok": report.ok,
                "sent": report.sent,
                "acknowledged": report.acknowledged,
                "remaining": report.remaining,
                "error": report.error.reason if report.error else None,
            },
        )
        return report

    def backup(self, destination: Path, actor: str) -> BackupResult:
        """Copy the journal with SQLite's online backup, then prove the copy by restoring it."""
        destination.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = destination / f"journal-{self.kiosk_id}-{self.clock().astimezone(self.zone):%Y%m%d-%H%M%S}.db"
        source_file = self.journal.path
        # The copy holds what the journal holds: the owner's only (on media that keep modes at all).
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        with sqlite3.connect(source_file) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        expected = self._count_sales(source_file)
        with tempfile.TemporaryDirectory() as scratch:
            restored = Path(scratch) / "restored.db"
            with sqlite3.connect(target) as copy, sqlite3.connect(restored) as into:
                copy.backup(into)
            with sqlite3.connect(restored) as check:
                integrity = str(check.execute("PRAGMA integrity_check").fetchone()[0])
            restored_sales = self._count_sales(restored)
        verified = integrity == "ok" and restored_sales >= expected
        self.record(actor, "backup", {"path": str(target), "sales": restored_sales, "verified": verified})
        return BackupResult(target, restored_sales, verified, integrity)

    @staticmethod
    def _count_sales(path: Path) -> int:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT count(*) FROM sales").fetchone()[0])
