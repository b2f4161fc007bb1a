"""Printer status: DLE EOT 1-4 (and Custom's DLE EOT 20) parsed by hand, failing closed.

python-escpos 3.1's ``paper_status()`` reports "paper adequate" when nothing is read, so the kiosk
reads status itself: every reply is validated (one byte, ``0xx1xx10b``), and a missing or malformed
reply is a *blocking* condition, never "ready". Bit maps: Epson ESC/POS reference (DLE EOT), the
Custom KPM/VKP manuals for DLE EOT 20 (see the escpos reference report, section 4).

``StatusReader`` talks to any ``StatusTransport`` (a TCP socket, a serial port, USB endpoints), with
short per-query timeouts, and also waits for a job to be *printed* (not just sent): ``GS r 1`` is an
ordinary buffered command, so its reply arrives only after the printer has processed everything sent
before it; while the printer is stopped (paper end) it never arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

DLE_EOT = b"\x10\x04"
GS_R_PAPER = b"\x1dr\x01"
CUSTOM_FULL_STATUS = 20
CUSTOM_FULL_STATUS_LEN = 6


@dataclass(frozen=True, slots=True)
class Condition:
    """One thing the printer reports: a stable code for programs, a short text for a technician."""

    code: str
    text: str
    blocking: bool


# Conditions, as data. Russian texts are what the technician screen and `printer status` show.
PAPER_NEAR_END = Condition("paper_near_end", "Бумага заканчивается", blocking=False)
PAPER_END = Condition("paper_end", "Нет бумаги", blocking=True)
COVER_OPEN = Condition("cover_open", "Открыта крышка", blocking=True)
OFFLINE = Condition("offline", "Принтер не в сети", blocking=True)
CUTTER_ERROR = Condition("cutter_error", "Ошибка отрезчика", blocking=True)
UNRECOVERABLE_ERROR = Condition("unrecoverable_error", "Неустранимая ошибка принтера", blocking=True)
RECOVERABLE_ERROR = Condition("recoverable_error", "Ошибка принтера (устранимая)", blocking=True)
AUTO_RECOVERABLE_ERROR = Condition("auto_recoverable_error", "Перегрев головки или питание", blocking=True)
ERROR = Condition("error", "Ошибка принтера", blocking=True)
PAPER_JAM = Condition("paper_jam", "Замятие бумаги", blocking=True)
TICKET_NOT_TAKEN = Condition("ticket_not_taken", "Документ не забран из презентера", blocking=True)
NO_REPLY = Condition("no_reply", "Принтер не отвечает", blocking=True)
MALFORMED_REPLY = Condition("malformed_reply", "Неверный ответ принтера", blocking=True)
PRINT_TIMEOUT = Condition("print_timeout", "Печать не завершилась вовремя", blocking=True)
NO_STATUS_CHANNEL = Condition("no_status_channel", "Статус недоступен (вывод в файл)", blocking=False)
# What an escpos+file:// path may be instead of a printer (drivers.printer.escpos_backend.open_device_file).
NOT_A_PRINTER = Condition("not_a_printer", "По адресу принтера не принтер (каталог, канал, сокет)", blocking=True)
FOREIGN_FILE = Condition("foreign_file", "По адресу принтера чужой непустой файл (append=1)", blocking=True)

ALL_CONDITIONS: tuple[Condition, ...] = (
    PAPER_NEAR_END,
    PAPER_END,
    COVER_OPEN,
    OFFLINE,
    CUTTER_ERROR,
    UNRECOVERABLE_ERROR,
    RECOVERABLE_ERROR,
    AUTO_RECOVERABLE_ERROR,
    ERROR,
    PAPER_JAM,
    TICKET_NOT_TAKEN,
    NO_REPLY,
    MALFORMED_REPLY,
    PRINT_TIMEOUT,
    NO_STATUS_CHANNEL,
    NOT_A_PRINTER,
    FOREIGN_FILE,
)

# (DLE EOT n, bit mask, condition): any bit of the mask set means the condition. Masks with two
# bits (near end, paper end) count either bit, so a half-reporting sensor errs on the safe side.
DLE_EOT_BITS: tuple[tuple[int, int, Condition], ...] = (
    (1, 0x08, OFFLINE),
    (2, 0x04, COVER_OPEN),
    (2, 0x20, PAPER_END),  # printing stopped by paper end
    (2, 0x40, ERROR),  # "error occurred"; the cause is in DLE EOT 3
    (3, 0x04, RECOVERABLE_ERROR),
    (3, 0x08, CUTTER_ERROR),
    (3, 0x20, UNRECOVERABLE_ERROR),
    (3, 0x40, AUTO_RECOVERABLE_ERROR),
    (4, 0x0C, PAPER_NEAR_END),
    (4, 0x60, PAPER_END),
)

# Custom DLE EOT 20: 10 0F, then paper, user, recoverable, unrecoverable (byte index, mask, condition).
CUSTOM_BITS: tuple[tuple[int, int, Condition], ...] = (
    (2, 0x01, PAPER_END),
    (2, 0x04, PAPER_NEAR_END),
    (2, 0x40, PAPER_NEAR_END),  # "virtual paper end": the configured near-end threshold
    (2, 0x20, TICKET_NOT_TAKEN),  # ticket present in the presenter's output
    (3, 0x03, COVER_OPEN),  # cover or head open
    (4, 0x01, AUTO_RECOVERABLE_ERROR),  # head temperature
    (4, 0x0E, RECOVERABLE_ERROR),  # COM errors, supply voltage
    (4, 0x40, PAPER_JAM),
    (5, 0x01, CUTTER_ERROR),
    (5, 0x4C, UNRECOVERABLE_ERROR),  # memory errors
)


def is_dle_eot_reply(byte: int) -> bool:
    """Whether a byte has the fixed bits of every DLE EOT 1-4 reply (0xx1xx10b)."""
    return byte & 0x93 == 0x12


def is_gs_r_reply(byte: int) -> bool:
    """Whether a byte can be a GS r 1 reply (bits 4 and 7 are 0, unlike any DLE EOT reply)."""
    return byte & 0x90 == 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The printer's state as the kiosk acts on it: ready only when nothing blocks."""

    blocking: tuple[Condition, ...] = ()
    warnings: tuple[Condition, ...] = ()
    raw: Mapping[str, str] = field(default_factory=dict)  # query -> reply in hex ("" = no reply)

    @property
    def ready(self) -> bool:
        """True when no blocking condition is present."""
        return not self.blocking

    @property
    def codes(self) -> tuple[str, ...]:
        """Codes of every condition, blocking first."""
        return tuple(c.code for c in (*self.blocking, *self.warnings))

    def summary(self) -> str:
        """One line of Russian for a technician screen."""
        if self.ready and not self.warnings:
            return "Принтер готов"
        head = "Принтер готов" if self.ready else "Принтер не готов"
        return f"{head}: " + "; ".join(c.text for c in (*self.blocking, *self.warnings))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``osago-kiosk printer status --json``)."""
        return {
            "ready": self.ready,
            "summary": self.summary(),
            "blocking": [{"code": c.code, "text": c.text} for c in self.blocking],
            "warnings": [{"code": c.code, "text": c.text} for c in self.warnings],
            "raw": dict(self.raw),
        }

    def merged(self, *others: StatusReport) -> StatusReport:
        """This report and others together (conditions deduplicated, order kept)."""
        reports = (self, *others)
        raw: dict[str, str] = {}
        for report in reports:
            raw.update(report.raw)
        return report_of((c for r in reports for c in (*r.blocking, *r.warnings)), raw)


def report_of(conditions: Iterable[Condition], raw: Mapping[str, str] | None = None) -> StatusReport:
    """A report from conditions in any order; duplicates dropped, blocking and warnings split."""
    unique = tuple(dict.fromkeys(conditions))
    return StatusReport(
        blocking=tuple(c for c in unique if c.blocking),
        warnings=tuple(c for c in unique if not c.blocking),
        raw=dict(raw or {}),
    )


def parse_dle_eot(replies: Mapping[int, bytes | None]) -> StatusReport:
    """Parse the replies to DLE EOT 1, 2, 3 and 4 (``None`` or ``b""`` = no reply).

    Fails closed: a missing query, no reply, or a reply that is not exactly one well-formed byte
    adds a blocking condition; the bits of the well-formed replies are still reported.
    """
    conditions: list[Condition] = []
    raw: dict[str, str] = {}
    for n in (1, 2, 3, 4):
        reply = replies.get(n)
        raw[f"dle_eot_{n}"] = (reply or b"").hex()
        if not reply:
            conditions.append(NO_REPLY)
            continue
        if len(reply) != 1 or not is_dle_eot_reply(reply[0]):
            conditions.append(MALFORMED_REPLY)
            continue
        conditions += [cond for query, mask, cond in DLE_EOT_BITS if query == n and reply[0] & mask]
    return report_of(conditions, raw)


def parse_custom_status(reply: bytes | None) -> StatusReport:
    """Parse Custom's 6-byte full status (reply to DLE EOT 20); fails closed like ``parse_dle_eot``."""
    raw = {"dle_eot_20": (reply or b"").hex()}
    if not reply:
        return report_of([NO_REPLY], raw)
    if len(reply) != CUSTOM_FULL_STATUS_LEN or reply[:2] != b"\x10\x0f":
        return report_of([MALFORMED_REPLY], raw)
    return report_of((cond for index, mask, cond in CUSTOM_BITS if reply[index] & mask), raw)


class StatusTransport(Protocol):
    """The two-way byte channel a status reader needs (a socket, a serial port, USB endpoints)."""

    def send(self, data: bytes) -> None:
        """Write bytes to the printer."""

    def receive(self, timeout: float) -> bytes:
        """Whatever arrives within ``timeout`` seconds (at least one byte, or ``b""``)."""

    def discard_input(self) -> None:
        """Drop stale bytes already received (late replies, automatic status)."""


class StatusReader:
    """Queries status over a transport with short timeouts, and waits for jobs to finish printing."""

    def __init__(self, transport: StatusTransport, *, timeout: float = 0.4, extended: str = "none") -> None:
        if timeout <= 0:
            raise ValueError("status timeout must be positive")
        self._transport = transport
        self._timeout = timeout
        self._extended = extended
        self._pending = bytearray()  # received but not yet consumed
        self._completions = 0  # GS r replies seen while a completion barrier is pending
        self._barrier = False

    def read(self) -> StatusReport:
        """DLE EOT 1-4 (and the profile's extended status). Stops at the first unanswered query."""
        self._flush_stale()
        replies: dict[int, bytes | None] = {}
        for n in (1, 2, 3, 4):
            replies[n] = self._query(DLE_EOT + bytes([n]), 1)
            if not replies[n]:
                break  # a printer that ignores one query ignores the rest: don't wait 4 times
        report = parse_dle_eot(replies)
        if self._extended == "custom" and replies.get(1):
            report = report.merged(
                parse_custom_status(self._query(DLE_EOT + bytes([CUSTOM_FULL_STATUS]), CUSTOM_FULL_STATUS_LEN))
            )
        return report

    def wait_printed(self, timeout: float, poll: float = 0.25) -> StatusReport:
        """After a job was sent: wait until the printer has processed it, then read status.

        Returns early, with the blocking status, as soon as DLE EOT shows the printer stopped
        (paper end, cover open...). A job that does not finish within ``timeout`` adds
        ``PRINT_TIMEOUT``.
        """
        self._flush_stale()
        self._barrier, self._completions = True, 0
        try:
            self._transport.send(GS_R_PAPER)
            deadline = time.monotonic() + timeout
            while not self._printed(poll, deadline):
                report = self.read()  # DLE EOT is answered at once, even while the job is stuck
                if self._completions:
                    break
                if not report.ready:
                    return report
                if time.monotonic() >= deadline:
                    return report.merged(report_of([PRINT_TIMEOUT]))
            return self.read()
        finally:
            self._barrier = False

    # --- internals ---------------------------------------------------------------------------

    def _printed(self, poll: float, deadline: float) -> bool:
        """Receive for up to ``poll`` seconds; whether the completion reply has arrived."""
        self._collect(min(poll, max(0.0, deadline - time.monotonic())))
        return self._completions > 0

    def _flush_stale(self) -> None:
        if not self._barrier:
            self._pending.clear()
            self._transport.discard_input()

    def _collect(self, timeout: float) -> None:
        """Receive for up to ``timeout``, moving GS r replies out of the way while a barrier waits."""
        data = self._transport.receive(timeout)
        for byte in data:
            if self._barrier and is_gs_r_reply(byte) and not self._pending:
                self._completions += 1
            else:
                self._pending.append(byte)

    def _query(self, request: bytes, length: int) -> bytes | None:
        if self._barrier:
            self._collect(0)  # keep a completion reply that is already here; drop anything else
        else:
            self._transport.discard_input()
        self._pending.clear()
        self._transport.send(request)
        deadline = time.monotonic() + self._timeout
        while len(self._pending) < length:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._collect(remaining)
        reply, self._pending = bytes(self._pending), bytearray()
        return reply or None
