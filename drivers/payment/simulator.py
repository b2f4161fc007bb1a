"""A ZVT payment terminal simulator: the terminal side of the real wire protocol over a pty or TCP.

Run it as a separate process (``osago-kiosk simulate terminal`` or ``python -m
drivers.payment.simulator``). The first stdout line says where it listens: the pty slave path, or
``HOST:PORT``. It keeps a persistent ledger (``drivers.payment.ledger``) of every authorisation and its
fate, and survives the ECR side disappearing (pty hang-up, socket EOF): an approved payment whose goods
decision never came is reversed when its answer timeout (BMP 01) expires, or as soon as the next
command arrives, whichever is first.

It follows the command spec PA00P015 13.08 where a kiosk depends on it:

* Registration (§2.1) checks the currency (``84 1E 03 6F <CC>`` if wrong), keeps the config byte (04 FF
  only if bit 3 asked for it; receipts as print commands only if bits 1/2 and 7 say so), takes TLV 26
  (06 D3 text blocks only if the ECR listed 06 D3, else 06 D1 lines) and TLV 27/14 (a charset it knows is
  echoed and used), and reports vending-machine mode in the status byte (bit 4).
* Authorisation checks the currency too (Abort ``06 1E 6F <CC>``, §2.2.9). A payment is stored only
  after the ECR answered the 04 0F *and* every receipt line; without those answers it is reversed
  (§2.2.8). Once stored, a failed Completion does not undo it (§2.2.9).
* A command that arrives while the terminal is master is answered ``84 A0 00`` (receiver not ready,
  "receiver is busy") instead of being dropped; 06 B0 during a payment aborts it.
* Service bytes are honoured: Repeat Receipt (§2.20.1) sends the Status-Information only with bit 0 and
  no receipt with bit 1; Status-Enquiry (§2.56.1) leaves out the software version with bit 1.
* After a restart the last transaction (receipt no, trace, fate) is rebuilt from the fsynced ledger, and
  a payment it never stored is reversed, so Repeat Receipt after a crash tells the truth. The ledger is
  locked: a second simulator on the same ledger waits, then refuses to start.
* Started by ``sim://`` it dies with the process that started it (``--die-with-parent``: Linux
  PR_SET_PDEATHSIG, and ``--watch-stdin``: exit when the parent's pipe closes).

Scenarios (``--scenario``, or at run time through ``--control FILE``: JSON ``{"scenario": …}``):
approve, decline, customer-abort, card-unreadable, timeout, nak-storm, corrupted-crc, line-drop, slow.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Final
from zoneinfo import ZoneInfo

from drivers.payment import messages as m
from drivers.payment.apdu import (
    Apdu,
    amount_encode,
    bcd_encode,
    decode_apdu,
    encode_bmp,
    encode_tlv,
    iter_tlv,
    parse_bmps,
    var_length_encode,
)
from drivers.payment.errors import LinkClosedError, ProtocolError, TerminalError, TransportError
from drivers.payment.framing import ACK, NAK
from drivers.payment.ledger import Ledger, LedgerEntry, LedgerLockedError
from drivers.payment.link import Link, SerialLink, TcpLink, Timing
from drivers.payment.models import Fate, to_minor_units
from drivers.payment.ports import FdPort, LinePacer, SocketPort

log = logging.getLogger("drivers.payment.simulator")

SCENARIOS: Final = (
    "approve",
    "decline",
    "customer-abort",
    "card-unreadable",
    "timeout",
    "nak-storm",
    "corrupted-crc",
    "line-drop",
    "slow",
)
MOSCOW: Final = ZoneInfo("Europe/Moscow")
RUB: Final = 643
BUSY: Final = m.negative(0xA0)  # 84 A0 00: receiver not ready ("receiver is busy", §2 error tables)
CONFIG_LOGGED_OFF: Final = 0x86  # the config byte after Log-Off (§2.3): ECR prints via print lines
PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>
LEDGER_LOCK_WAIT: Final = 10.0  # s a new simulator waits for the previous one to let go of the ledger
DEFAULT_ANSWER_TIMEOUT: Final = 30  # s the terminal waits for the answer to 04 0F (BMP 01 default)
CARD_NAME: Final = "MasterCard"
CARD_TYPE_ID: Final = 0x06
MASKED_PAN_BCD: Final = bytes.fromhex("559883EEEEEE8074")
FULL_PAN_BCD: Final = bytes.fromhex("5598830000008074")
TOTALS_GROUP_OF_CARD: Final = 2  # Mastercard is the "Eurocard" group of BMP 60


def normalise_scenario(name: str) -> str:
    value = name.strip().lower().replace("_", "-")
    if value not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return value


@dataclass(frozen=True)
class Settings:
    """How the simulated terminal behaves. All can change at run time through the control file."""

    scenario: str = "approve"
    think_time: float = 0.5  # total "card + PIN + host" time of an authorisation
    terminal_id: str = "52523535"
    terminal_status: int = 0x00  # what Status-Enquiry reports (00 ready)
    reask_delay: float = 2.0  # after 84 9C 00 the terminal asks again after this long
    naks: int = 2  # nak-storm: NAKs before each frame is accepted (3+ exhausts the ECR's repeats)
    bad_crcs: int = 1  # corrupted-crc: transmissions of each frame sent with a broken CRC
    drop_pause: float = 1.0  # line-drop: how long the line is dead after half a frame
    slow_steps: int = 6  # slow: intermediate statuses spread over think_time
    print_mode: str = "auto"  # auto (06 D3 if the ECR listed it in TLV 26, else 06 D1), lines or blocks
    full_pan: bool = False  # test only: send an unmasked PAN to prove the ECR masks it
    currency: int = RUB  # the terminal's currency; others are refused with 6F
    charset: str = "cp437"  # the receipt charset the "vendor" configured (used when the ECR sends no TLV 14)

    def __post_init__(self) -> None:
        normalise_scenario(self.scenario)
        if self.think_time < 0 or self.reask_delay < 0 or self.drop_pause < 0:
            raise ValueError("times must not be negative")
        if self.print_mode not in ("auto", "lines", "blocks"):
            raise ValueError("print mode is 'auto', 'lines' or 'blocks'")
        m.normalise_charset(self.charset)
        if not (len(self.terminal_id) == 8 and self.terminal_id.isdigit()):
            raise ValueError("terminal id is eight digits")


class _AbortedError(Exception):
    """The ECR sent 06 B0 while we were working."""


class _HangupError(Exception):
    """Used to unwind a session when the line is gone."""


@dataclass
class _Pending:
    """An approved authorisation waiting for the goods decision while nobody is connected."""

    entry: LedgerEntry
    deadline: float


@dataclass
class SimState:
    """What the terminal remembers across connections (rebuilt from the ledger on start)."""

    ledger: Ledger
    trace: int = 0
    receipt: int = 0
    last: dict[str, object] | None = None  # last financial transaction, for Repeat Receipt
    pending: _Pending | None = None
    faults: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, ledger: Ledger) -> SimState:
        """The terminal after a restart: counters, the last transaction, and the auto-reversal of a
        payment a killed simulator had not stored yet (§2.2.8: storage needs the ECR's answers)."""
        state = cls(ledger)
        unstored: LedgerEntry | None = None
        for entry in ledger.entries:
            if entry.trace:
                state.trace = max(state.trace, int(entry.trace))
            for key in ("reversal_trace",):
                if entry.extra.get(key):
                    state.trace = max(state.trace, int(str(entry.extra[key])))
            if entry.receipt_no and entry.event != "reversed":
                state.receipt = max(state.receipt, int(entry.receipt_no))
            if entry.event == "authorised":
                unstored = entry
            elif entry.fate is not None and unstored is not None and unstored.receipt_no == entry.receipt_no:
                unstored = None
            if entry.fate is not None and entry.fate is not Fate.PENDING:
                state.last = last_of(entry, ledger.entries)
        if unstored is not None:
            state.pending = _Pending(unstored, 0.0)  # reversed by the simulator as it starts
        return state

    def next_trace(self) -> str:
        self.trace = self.trace % 999_999 + 1
        return f"{self.trace:06d}"

    def next_receipt(self) -> str:
        self.receipt = self.receipt % 9_999 + 1
        return f"{self.receipt:04d}"

    def turnover(self) -> dict[str, LedgerEntry]:
        """Committed payments and refunds since the last End-of-Day, by receipt number."""
        book: dict[str, LedgerEntry] = {}
        for entry in self.ledger.entries:
            if entry.event == "end_of_day":
                book.clear()
            elif entry.event in ("committed", "refunded") and entry.receipt_no:
                book[entry.receipt_no] = entry
            elif entry.event == "reversed" and entry.receipt_no:
                book.pop(entry.receipt_no, None)
        return book


def last_of(entry: LedgerEntry, entries: Sequence[LedgerEntry]) -> dict[str, object]:
    """What Repeat Receipt reports for a fate-bearing ledger entry (the terminal's last transaction)."""
    if entry.event == "reversed":
        return {
            "result": 0,
            "amount": entry.amount,
            "trace": entry.extra.get("reversal_trace") or entry.trace,
            "original_trace": entry.trace,
            "receipt_no": entry.receipt_no,
        }
    if entry.event == "declined":
        return {
            "result": int(entry.result_code or "05", 16),
            "amount": entry.amount,
            "trace": entry.trace,
            "receipt_no": entry.receipt_no,
        }
    auth_code = entry.extra.get("auth_code") or next(
        (e.extra.get("auth_code") for e in entries if e.event == "authorised" and e.trace == entry.trace), None
    )
    return {
        "result": 0,
        "amount": entry.amount,
        "trace": entry.trace,
        "receipt_no": entry.receipt_no,
        "auth_code": auth_code,
    }


@dataclass
class _Registration:
    """What the last Registration set (§2.1); a Log-Off sets the config byte back to 86."""

    config: int = CONFIG_LOGGED_OFF
    service_byte: int = 0
    blocks: bool = False  # the ECR listed 06 D3 in TLV 26
    charset: str | None = None  # a charset the ECR configured with TLV 27/14 and we accepted


class SimLink(SerialLink):
    """The terminal's serial link, which misbehaves on purpose in the fault scenarios."""

    def __init__(self, port: FdPort, sim: TerminalSimulator, timing: Timing) -> None:
        super().__init__(port, timing)
        self.sim = sim
        self._naked: tuple[bytes, int] = (b"", 0)

    def _reply_to(self, apdu: bytes) -> int | None:
        scenario = self.sim.settings.scenario
        if scenario == "timeout" and apdu[:2] == bytes(m.AUTHORISATION):
            log.info("timeout scenario: ignoring %s", apdu[:2].hex(" "))
            return None
        if scenario == "nak-storm":
            last, count = self._naked
            count = count + 1 if last == apdu else 1
            if count <= self.sim.settings.naks:
                self._naked = (apdu, count)
                return NAK
            self._naked = (b"", 0)
        return ACK

    def _transmit(self, frame: bytes, attempt: int) -> None:
        scenario = self.sim.settings.scenario
        if scenario == "corrupted-crc" and attempt < self.sim.settings.bad_crcs:
            broken = frame[:-2] + bytes([frame[-2] ^ 0xFF, frame[-1]])
            self._write(broken)
            return
        if scenario == "line-drop" and attempt == 0 and self.sim.drop_armed:
            self.sim.drop_armed = False
            self._write(frame[: len(frame) // 2])
            time.sleep(self.sim.settings.drop_pause)
            self.discard()  # whatever the ECR said while the line was dead is lost
            if isinstance(self.port, FdPort):
                self.port.discard_input()
            return
        self._write(frame)


class TerminalSimulator:
    """The terminal's application logic: one command at a time, terminal-as-master dialogues."""

    def __init__(self, settings: Settings, ledger: Ledger, control: Path | None = None) -> None:
        self.settings = settings
        self.state = SimState.load(ledger)
        self.control = control
        self._control_mtime = 0.0
        self.drop_armed = False
        self.abort_requested = False
        self.t3 = 5.0
        self.registration = _Registration()
        if self.state.pending is not None:
            self._reverse_pending("restart")

    # --- run-time control ----------------------------------------------------------------------------

    def reload_control(self) -> None:
        """Apply the control file if it changed (JSON object of Settings fields)."""
        if self.control is None:
            return
        try:
            mtime = self.control.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self._control_mtime:
            return
        self._control_mtime = mtime
        try:
            values = json.loads(self.control.read_text(encoding="utf-8") or "{}")
            if "scenario" in values:
                values["scenario"] = normalise_scenario(values["scenario"])
            if isinstance(values.get("terminal_status"), str):
                values["terminal_status"] = int(values["terminal_status"], 16)
            self.settings = replace(self.settings, **values)
            log.warning("control file applied: %s", values)
        except (ValueError, TypeError) as exc:
            log.error("control file %s ignored: %s", self.control, exc)

    def tick(self) -> None:
        """Housekeeping while idle: expire a pending goods decision (the terminal reverses)."""
        self.reload_control()
        pending = self.state.pending
        if pending is not None and time.monotonic() >= pending.deadline:
            self._reverse_pending("no_ack")

    def _reverse_pending(self, reason: str) -> None:
        pending = self.state.pending
        if pending is None:
            return
        self.state.pending = None
        entry = pending.entry
        self._record_reversal(entry, reason)

    def _record_reversal(self, entry: LedgerEntry, reason: str, reversal_trace: str | None = None) -> None:
        rtrace = reversal_trace or self.state.next_trace()
        reversal = self.state.ledger.append(
            "reversed",
            receipt_no=entry.receipt_no,
            trace=entry.trace,
            amount=entry.amount,
            reason=reason,
            reversal_trace=rtrace,
        )
        self.state.last = last_of(reversal, self.state.ledger.entries)
        log.warning("reversed receipt %s (%s)", entry.receipt_no, reason)

    # --- the session --------------------------------------------------------------------------------

    def serve(self, link: Link) -> None:
        """Serve one connection until it hangs up."""
        while True:
            apdu = link.receive(0.2)
            if apdu is None:
                self.tick()
                continue
            self.reload_control()
            if self.state.pending is not None and apdu[:1] != b"\x80" and apdu[:1] != b"\x84":
                # A new command instead of the goods answer: the ECR lost the dialogue.
                self._reverse_pending("no_ack")
            self.abort_requested = False
            try:
                self.handle(link, apdu)
            except _HangupError:
                raise LinkClosedError("hang-up during a dialogue") from None
            except LinkClosedError:
                raise
            except TransportError as exc:
                log.warning("dialogue failed: %s", exc)
            except Exception:  # one broken dialogue must not take the terminal down
                log.exception("dialogue crashed")

    def handle(self, link: Link, raw: bytes) -> None:
        try:
            apdu = decode_apdu(raw)
        except ProtocolError:
            link.send(m.negative(0x9A))
            return
        handlers: dict[tuple[int, int], Callable[[Link, bytes], None]] = {
            m.REGISTRATION: self._registration,
            m.STATUS_ENQUIRY: self._status_enquiry,
            m.AUTHORISATION: self._authorisation,
            m.REVERSAL: self._reversal,
            m.REFUND: self._refund,
            m.END_OF_DAY: self._end_of_day,
            m.DIAGNOSIS: self._diagnosis,
            m.REPEAT_RECEIPT: self._repeat_receipt,
            m.LOG_OFF: self._log_off,
            m.ABORT_ECR: self._just_acknowledge,
        }
        handler = handlers.get(apdu.control)
        if m.is_response(raw):
            return  # a late answer to something we already gave up on
        if handler is None:
            link.send(m.negative(0x83))
            return
        handler(link, apdu.data)

    @staticmethod
    def _just_acknowledge(link: Link, data: bytes) -> None:
        link.send(m.POSITIVE)

    def _log_off(self, link: Link, data: bytes) -> None:
        self.registration = _Registration()  # §2.3: config byte back to 86, no more TLV
        link.send(m.POSITIVE)

    @property
    def charset(self) -> str:
        """The charset of our receipt and display texts."""
        return self.registration.charset or self.settings.charset

    def _wrong_currency(self, raw: bytes | None) -> bool:
        if raw is None:
            return False  # no CC: the terminal's own currency (§1.4)
        try:
            return int(raw.hex()) != self.settings.currency
        except ValueError:
            return True

    # --- terminal-as-master helpers ----------------------------------------------------------------

    def _send(self, link: Link, apdu: bytes, timeout: float | None = None) -> bytes | None:
        """Send a PT command; return the ECR's answer (None if none came within T3)."""
        link.send(apdu)
        deadline = time.monotonic() + (self.t3 if timeout is None else timeout)
        while True:
            answer = link.receive(max(deadline - time.monotonic(), 0.0))
            if answer is None:
                return None
            if m.is_response(answer):
                return answer
            if answer[:2] == bytes(m.ABORT_ECR):
                link.send(m.POSITIVE)
                self.abort_requested = True  # acted on at the next point where work can stop
                continue
            # We are master: the ECR may not start a command now (transport spec §5.1). Every command
            # gets an answer (§5.2.3), so say "busy" rather than drop it.
            log.info("answering %s with 84 A0 00 while waiting for an answer", answer[:2].hex(" "))
            link.send(BUSY)

    def _status(self, link: Link, code: int, texts: Sequence[str] = ()) -> None:
        if not self.registration.config & 0x08:
            return  # §2.1 config byte bit 3: intermediate status only when the ECR asked for it
        self._send(link, m.intermediate_status(code, None, texts))

    def _think(self, link: Link, seconds: float) -> None:
        """Work for a while, listening for the ECR's abort request."""
        deadline = time.monotonic() + seconds
        while True:
            if self.abort_requested:
                self.abort_requested = False
                raise _AbortedError
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            apdu = link.receive(remaining)
            if apdu is None or m.is_response(apdu):
                continue
            if apdu[:2] == bytes(m.ABORT_ECR):
                link.send(m.POSITIVE)
                self.abort_requested = True
            else:
                link.send(BUSY)  # see _send: a command while we are master is answered, not swallowed

    def _prints(self, admin: bool = False) -> bool:
        """§2.1 config byte: receipts go to the ECR as print commands (bit 7 and bit 1 or 2)."""
        config = self.registration.config
        return bool(config & 0x80 and config & (0x04 if admin else 0x02))

    def _print(self, link: Link, lines: Sequence[str], admin: bool = False) -> bool:
        """Send a receipt as 06 D1 lines or one 06 D3 block; True when every print command was answered
        (the ECR's part of storing a payment, §2.2.8). Nothing to print counts as answered."""
        if not self._prints(admin):
            return True
        mode = self.settings.print_mode
        if mode == "blocks" or (mode == "auto" and self.registration.blocks):
            return self._send(link, m.print_block(lines, charset=self.charset)) is not None
        for line in lines:
            if self._send(link, m.print_line(line, charset=self.charset)) is None:
                return False
        return self._send(link, Apdu(*m.PRINT_LINE, b"\x81").encode()) is not None  # last line of the receipt

    def _clock(self) -> list[tuple[int, bytes]]:
        now = datetime.now(MOSCOW)
        return [(0x0C, bcd_encode(now.strftime("%H%M%S"))), (0x0D, bcd_encode(now.strftime("%m%d")))]

    def _finish(self, link: Link, ok: bool, code: int = 0) -> None:
        self._send(link, m.completion() if ok else m.abort_pt(code))

    # --- commands ------------------------------------------------------------------------------------

    def _registration(self, link: Link, data: bytes) -> None:
        """§2.1: <password> <config> [<CC> [03 <service byte>] [06 TLV]]."""
        if len(data) < 4:
            link.send(m.negative(0x9A))
            return
        cc = data[4:6] if len(data) >= 6 else None
        if self._wrong_currency(cc):
            link.send(m.wrong_currency(self.settings.currency))
            return
        try:
            fields = parse_bmps(data[6:])
        except ProtocolError:
            link.send(m.negative(0x9A))
            return
        link.send(m.POSITIVE)
        service = fields.get(0x03)
        commands = {bytes(t.value) for t in iter_tlv(fields.tlv) if t.tag == 0x0A}
        asked = [t.value[0] for t in iter_tlv(fields.tlv) if t.tag == 0x14 and len(t.value) == 1]
        charset = m.charset_of_code(asked[0]) if len(asked) == 1 else None  # §9 tag 27: exactly one
        self.registration = _Registration(
            config=data[3],
            service_byte=service[0] if service else 0,
            blocks=bytes(m.PRINT_BLOCK) in commands,
            charset=charset,
        )
        body = bytes([0x19, 0x10, 0x29]) + bcd_encode(self.settings.terminal_id, 4)  # 0x10: vending machine
        if cc is not None:
            body += bytes([0x49]) + cc
        if charset is not None:
            body += encode_bmp(0x06, encode_tlv(0x27, encode_tlv(0x14, bytes([asked[0]]))))
        self._send(link, m.completion(body))

    def _status_enquiry(self, link: Link, data: bytes) -> None:
        """§2.56: service byte bit 1 leaves out the software version."""
        link.send(m.POSITIVE)
        service = data[4] if len(data) >= 5 and data[3] == 0x03 else 0
        version = b"OSAGO-SIM 1.0"
        body = b"" if service & 0x02 else var_length_encode(len(version), 3) + version
        body += bytes([self.settings.terminal_status])
        self._send(link, m.completion(body))

    def _payment_fields(self, amount: Decimal, trace: str, receipt: str, auth_code: str) -> list[tuple[int, bytes]]:
        pan = FULL_PAN_BCD if self.settings.full_pan else MASKED_PAN_BCD
        return [
            (0x27, b"\x00"),
            (0x04, amount_encode(to_minor_units(amount))),
            (0x0B, bcd_encode(trace, 3)),
            *self._clock(),
            (0x0E, bcd_encode("2812")),
            (0x19, b"\x70"),
            (0x22, pan),
            (0x29, bcd_encode(self.settings.terminal_id, 4)),
            (0x3B, auth_code.encode("ascii").ljust(8, b"\x00")),
            (0x49, bcd_encode("0643")),
            (0x87, bcd_encode(receipt, 2)),
            (0x8A, bytes([CARD_TYPE_ID])),
            (0x8B, CARD_NAME.encode("ascii") + b"\x00"),
        ]

    def _receipt(self, title: str, amount: Decimal | None, trace: str, receipt: str | None, verdict: str) -> list[str]:
        lines = [f"      {title}", f"TERMINAL {self.settings.terminal_id}", f"TRACE {trace}"]
        if receipt:
            lines.append(f"RECEIPT {receipt}")
        lines.append(f"CARD {CARD_NAME} ************8074")
        if amount is not None:
            lines.append(f"AMOUNT RUB {amount:.2f}")
        lines.append(verdict)
        return lines

    def _authorisation(self, link: Link, data: bytes) -> None:
        fields = parse_bmps(data)
        raw_amount = fields.get(0x04)
        if raw_amount is None:
            link.send(m.negative(0x9A))
            return
        amount = Decimal(int(raw_amount.hex())).scaleb(-2)
        answer_timeout = fields.get(0x01)
        max_asks = fields.get(0x02)
        link.send(m.POSITIVE)
        settings = self.settings
        trace = self.state.next_trace()
        if self._wrong_currency(fields.get(0x49)):
            # §2.2.9: the Abort carries the PT's currency, and only with result 6F.
            self._declined_entry(amount, trace, 0x6F, None)
            self._send(link, m.abort_pt(0x6F, currency=settings.currency))
            return
        try:
            if settings.terminal_status != 0x00:
                self._decline(
                    link, amount, trace, settings.terminal_status, verdict="TERMINAL NOT READY", receipt=False
                )
                return
            self._status(link, 0x0A)  # insert card
            if settings.scenario == "slow":
                step = settings.think_time / max(settings.slow_steps, 1)
                for _ in range(settings.slow_steps):
                    self._think(link, step)
                    self._status(link, 0x17)  # please wait
            else:
                self._think(link, settings.think_time * 0.3)
            if settings.scenario == "card-unreadable":
                self._status(link, 0x0C)  # card not readable
                self._declined_entry(amount, trace, 0x64, None)
                self._finish(link, False, 0x64)
                return
            if settings.scenario == "customer-abort":
                raise _AbortedError
            self._status(link, 0x01)  # PIN entry
            self._think(link, settings.think_time * 0.3)
            self._status(link, 0x04)  # waiting for the host
            if settings.scenario != "slow":
                self._think(link, settings.think_time * 0.4)
            if settings.scenario == "decline":
                self._decline(link, amount, trace, 0x05, verdict="DECLINED", receipt=True)
                return
        except _AbortedError:
            self._abort_by_customer(link, amount, trace)
            return
        receipt = self.state.next_receipt()
        auth_code = f"{(int(trace) * 7919) % 1_000_000:06d}"
        payment = self._payment_fields(amount, trace, receipt, auth_code)
        entry = self.state.ledger.append(
            "authorised",
            receipt_no=receipt,
            trace=trace,
            amount=amount,
            masked_pan="559883******8074",
            card_type=CARD_NAME,
            auth_code=auth_code,
            terminal_id=settings.terminal_id,
        )
        self.drop_armed = settings.scenario == "line-drop"
        timeout = answer_timeout[0] if answer_timeout else DEFAULT_ANSWER_TIMEOUT
        self._goods_wait(link, entry, payment, timeout, max_asks[0] if max_asks else None)

    def _goods_wait(
        self,
        link: Link,
        entry: LedgerEntry,
        payment: list[tuple[int, bytes]],
        timeout: int,
        max_asks: int | None,
    ) -> None:
        """Send the approved 04 0F and wait for the goods decision (spec §2.2.1 issue of goods)."""
        asks = 0
        assert entry.amount is not None and entry.trace is not None and entry.receipt_no is not None
        self.state.pending = _Pending(entry, time.monotonic() + timeout)
        while True:
            try:
                answer = self._send(link, m.status_information(payment), timeout=timeout)
            except LinkClosedError as exc:
                # The ECR vanished: keep the deadline; the reversal happens when it expires.
                raise _HangupError from exc
            except TransportError:
                answer = None  # our 04 0F was never acknowledged: the ECR is gone
            if answer is None:
                self.state.pending = None
                self._record_reversal(entry, "no_ack")
                self._end_reversed(link, entry, best_effort=True)
                return
            if answer == m.NOT_FINISHED:
                asks += 1
                if max_asks is not None and asks > max_asks:
                    self.state.pending = None
                    self._record_reversal(entry, "max_status_infos")
                    reversed_info = [(0x27, b"\x6c"), *payment[1:]]
                    try:
                        self._send(link, m.status_information(reversed_info))
                    except TerminalError:
                        return
                    self._end_reversed(link, entry)
                    return
                self.state.pending = _Pending(entry, time.monotonic() + self.settings.reask_delay + timeout)
                self._think(link, self.settings.reask_delay)
                continue
            self.state.pending = None
            if m.is_positive(answer) or answer[:2] == b"\x84\x9d":
                self._commit(link, entry, answer)
                return
            self._record_reversal(entry, "goods_refused")
            self._end_reversed(link, entry)
            return

    def _commit(self, link: Link, entry: LedgerEntry, answer: bytes) -> None:
        """The ECR confirmed the goods: print the receipt, then store the payment (§2.2.8) and complete."""
        amount = entry.amount
        partial = None
        if answer[:2] == b"\x84\x9d":
            fields = parse_bmps(decode_apdu(answer).data)
            raw = fields.get(0x04)
            partial = Decimal(int(raw.hex())).scaleb(-2) if raw else amount
        assert entry.trace is not None
        receipt = self._receipt("PAYMENT", partial or amount, entry.trace, entry.receipt_no, "APPROVED")
        try:
            answered = self._print(link, receipt)
        except TransportError as exc:
            # The line died under the receipt: not stored, so reversed (§2.2.8 auto-reversal).
            self._record_reversal(entry, "receipt_not_acknowledged")
            if isinstance(exc, LinkClosedError):
                raise _HangupError from exc
            return
        if not answered:
            self._record_reversal(entry, "receipt_not_acknowledged")
            self._end_reversed(link, entry, best_effort=True)
            return
        committed = self.state.ledger.append(
            "committed",
            receipt_no=entry.receipt_no,
            trace=entry.trace,
            amount=partial or amount,
            card_type=entry.extra.get("card_type"),
            auth_code=entry.extra.get("auth_code"),
            partial_of=None if partial is None else f"{amount:.2f}",
        )
        self.state.last = last_of(committed, self.state.ledger.entries)
        try:
            self._finish(link, True)
        except TerminalError as exc:  # §2.2.9: an error during Completion does not undo a stored payment
            log.warning("completion of receipt %s not delivered (%s): the payment stands", entry.receipt_no, exc)

    def _end_reversed(self, link: Link, entry: LedgerEntry, best_effort: bool = False) -> None:
        try:
            assert entry.trace is not None
            self._print(link, self._receipt("REVERSAL", entry.amount, entry.trace, entry.receipt_no, "REVERSED"))
            self._finish(link, False, 0x6C)
        except TerminalError:
            if not best_effort:
                raise

    def _declined_entry(self, amount: Decimal, trace: str, code: int, receipt: str | None) -> None:
        self.state.ledger.append("declined", receipt_no=receipt, trace=trace, amount=amount, result_code=f"{code:02X}")
        self.state.last = {"result": code, "amount": amount, "trace": trace, "receipt_no": receipt}

    def _decline(self, link: Link, amount: Decimal, trace: str, code: int, *, verdict: str, receipt: bool) -> None:
        receipt_no = self.state.next_receipt() if receipt else None
        self._declined_entry(amount, trace, code, receipt_no)
        info: list[tuple[int, bytes]] = [
            (0x27, bytes([code])),
            (0x04, amount_encode(to_minor_units(amount))),
            (0x0B, bcd_encode(trace, 3)),
            *self._clock(),
            (0x29, bcd_encode(self.settings.terminal_id, 4)),
            (0x3C, b"Abgelehnt"),
        ]
        if receipt_no:
            info.append((0x87, bcd_encode(receipt_no, 2)))
        tlv = encode_tlv(0x24, [encode_tlv(0x07, b"Abgelehnt")])
        self._send(link, m.status_information(info, tlv))
        self._print(link, self._receipt("PAYMENT", amount, trace, receipt_no, verdict))
        self._finish(link, False, code)

    def _abort_by_customer(self, link: Link, amount: Decimal, trace: str) -> None:
        self._declined_entry(amount, trace, 0x6C, None)
        info = [
            (0x27, b"\x6c"),
            (0x29, bcd_encode(self.settings.terminal_id, 4)),
            (0x3C, b"Abbruch durch Kunde"),
        ]
        self._send(link, m.status_information(info))
        self._finish(link, False, 0x6C)

    def _reversal(self, link: Link, data: bytes) -> None:
        fields = parse_bmps(data[3:])
        raw = fields.get(0x87)
        link.send(m.POSITIVE)
        receipt = raw.hex() if raw else ""
        original = self.state.turnover().get(receipt)
        if original is None or original.event != "committed":
            already = any(e.event == "reversed" and e.receipt_no == receipt for e in self.state.ledger.entries)
            self._finish(link, False, 0xB4 if already else 0xB5)
            return
        self._status(link, 0x04)
        self._think(link, self.settings.think_time * 0.5)
        rtrace = self.state.next_trace()
        self._record_reversal(original, "reversal_command", rtrace)
        assert original.amount is not None and original.trace is not None
        info = [
            (0x27, b"\x00"),
            (0x04, amount_encode(to_minor_units(original.amount))),
            (0x0B, bcd_encode(rtrace, 3)),
            (0x37, bcd_encode(original.trace, 3)),
            *self._clock(),
            (0x29, bcd_encode(self.settings.terminal_id, 4)),
            (0x87, bcd_encode(receipt, 2)),
        ]
        self._send(link, m.status_information(info))
        self._print(link, self._receipt("REVERSAL", original.amount, rtrace, receipt, "REVERSED"))
        self._finish(link, True)

    def _refund(self, link: Link, data: bytes) -> None:
        fields = parse_bmps(data[3:])
        raw = fields.get(0x04)
        if raw is None:
            link.send(m.negative(0x9A))
            return
        amount = Decimal(int(raw.hex())).scaleb(-2)
        link.send(m.POSITIVE)
        trace = self.state.next_trace()
        try:
            self._status(link, 0x0A)
            self._think(link, self.settings.think_time * 0.5)
            if self.settings.scenario == "decline":
                self._decline(link, amount, trace, 0x05, verdict="DECLINED", receipt=True)
                return
            self._status(link, 0x04)
            self._think(link, self.settings.think_time * 0.5)
        except _AbortedError:
            self._abort_by_customer(link, amount, trace)
            return
        receipt = self.state.next_receipt()
        self.state.ledger.append("refunded", receipt_no=receipt, trace=trace, amount=amount, card_type=CARD_NAME)
        self.state.last = {"result": 0, "amount": amount, "trace": trace, "receipt_no": receipt}
        self._send(link, m.status_information(self._payment_fields(amount, trace, receipt, "000000")))
        self._print(link, self._receipt("REFUND", amount, trace, receipt, "APPROVED"))
        self._finish(link, True)

    def _end_of_day(self, link: Link, data: bytes) -> None:
        link.send(m.POSITIVE)
        self._status(link, 0x0F)  # automatic end-of-day
        self._think(link, self.settings.think_time * 0.5)
        book = self.state.turnover()
        payments = [e for e in book.values() if e.event == "committed" and e.amount is not None]
        total = sum((e.amount for e in payments if e.amount is not None), Decimal("0.00"))
        receipts = sorted(book) or ["0000"]
        groups = [(0, Decimal("0.00"))] * 7
        groups[TOTALS_GROUP_OF_CARD] = (len(payments), total)
        totals = bcd_encode(receipts[0], 2) + bcd_encode(receipts[-1], 2)
        for count, amount in groups:
            totals += bytes([min(count, 255)]) + amount_encode(to_minor_units(amount))
        trace = self.state.next_trace()
        self.state.ledger.append("end_of_day", trace=trace, amount=total, count=len(payments))
        info = [
            (0x27, b"\x00"),
            (0x04, amount_encode(to_minor_units(total))),
            (0x0B, bcd_encode(trace, 3)),
            *self._clock(),
            (0x60, totals),
        ]
        self._send(link, m.status_information(info))
        self._print(
            link,
            [
                "     END OF DAY",
                f"TERMINAL {self.settings.terminal_id}",
                f"COUNT {len(payments)}",
                f"TOTAL RUB {total:.2f}",
            ],
            admin=True,
        )
        self._finish(link, True)

    def _diagnosis(self, link: Link, data: bytes) -> None:
        link.send(m.POSITIVE)
        self._status(link, 0x04)
        self._think(link, self.settings.think_time * 0.5)
        now = datetime.now(MOSCOW)
        set_time = (
            bytes([0xAA]) + bcd_encode(now.strftime("%y%m%d")) + bytes([0x0C]) + bcd_encode(now.strftime("%H%M%S"))
        )
        self._send(link, Apdu(*m.SET_DATE_TIME, set_time).encode())
        ok = self.settings.terminal_status == 0
        self._print(
            link,
            ["     DIAGNOSIS", f"TERMINAL {self.settings.terminal_id}", "HOST OK" if ok else "NOT READY"],
            admin=True,
        )
        self._finish(link, ok, self.settings.terminal_status)

    def _repeat_receipt(self, link: Link, data: bytes) -> None:
        """§2.20: service byte bit 0 = send the Status-Information as in the original transaction,
        bit 1 = no receipt. Without bit 0 a spec terminal sends no 04 0F: the ECR learns nothing."""
        link.send(m.POSITIVE)
        try:
            service_field = parse_bmps(data[3:]).get(0x03)
        except ProtocolError:
            service_field = None
        service = service_field[0] if service_field else 0x00
        last = self.state.last
        if last is None:
            self._finish(link, False, 0x83)
            return
        if service & m.REPEAT_STATUS_INFO:
            self._send(link, m.status_information(self._last_info(last)))
        if not service & m.REPEAT_NO_RECEIPT:
            self._print(link, ["     COPY", f"TRACE {last['trace']}"])
        self._finish(link, True)

    def _last_info(self, last: dict[str, object]) -> list[tuple[int, bytes]]:
        info: list[tuple[int, bytes]] = [(0x27, bytes([int(str(last["result"]))]))]
        amount = last.get("amount")
        if isinstance(amount, Decimal):
            info.append((0x04, amount_encode(to_minor_units(amount))))
        info.append((0x0B, bcd_encode(str(last["trace"]), 3)))
        if last.get("original_trace"):
            info.append((0x37, bcd_encode(str(last["original_trace"]), 3)))
        info += [*self._clock(), (0x29, bcd_encode(self.settings.terminal_id, 4))]
        if last.get("receipt_no"):
            info.append((0x87, bcd_encode(str(last["receipt_no"]), 2)))
        if last.get("auth_code"):
            info.append((0x3B, str(last["auth_code"]).encode("ascii").ljust(8, b"\x00")))
        return info


# --- servers ---------------------------------------------------------------------------------------------


class _StopError(BaseException):
    """SIGTERM: a BaseException so no dialogue's error handling can swallow it."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _StopError


def serve_pty(sim: TerminalSimulator, baudrate: int, timing: Timing, link_path: Path | None) -> None:
    """Create a pty, announce its slave path on stdout, serve connection after connection."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.close(slave)  # the ECR opens the slave; its closing is our hang-up signal
    if link_path is not None:
        link_path.unlink(missing_ok=True)
        link_path.symlink_to(path)
    print(path, flush=True)
    port = FdPort(master, LinePacer(baudrate) if baudrate else None)
    link = SimLink(port, sim, timing)
    try:
        while True:
            if not port.wait_connected(0.2):
                sim.tick()
                continue
            try:
                sim.serve(link)
            except LinkClosedError:
                log.warning("ECR hung up")
            link.discard()
            port.discard_input()
    finally:
        port.close()
        if link_path is not None:
            link_path.unlink(missing_ok=True)


def serve_tcp(sim: TerminalSimulator, host: str, port_no: int, timing: Timing) -> None:
    """Listen on TCP (ZVT over TCP, default port 20007); one ECR connection at a time."""
    server = socket.create_server((host, port_no))
    server.settimeout(0.2)
    bound_host, bound_port = server.getsockname()[:2]
    print(f"{bound_host}:{bound_port}", flush=True)
    try:
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                sim.tick()
                continue
            port = SocketPort(conn)
            try:
                sim.serve(TcpLink(port, timing))
            except LinkClosedError:
                log.warning("ECR disconnected")
            finally:
                port.close()
    finally:
        server.close()


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The simulator's arguments (shared by ``osago-kiosk simulate terminal``)."""
    parser = parser or argparse.ArgumentParser(prog="zvt-terminal-simulator", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pty (serial ZVT); prints its path")
    where.add_argument("--tcp", metavar="HOST:PORT", help="serve ZVT over TCP (port 0: any free port)")
    parser.add_argument("--link", type=Path, help="with --pty: create this symlink to the pty")
    parser.add_argument("--scenario", default="approve", help=f"one of: {', '.join(SCENARIOS)}")
    parser.add_argument("--ledger", type=Path, help="JSON-lines ledger file (appended, fsynced)")
    parser.add_argument("--think-time", type=float, default=0.5, help="card+PIN+host time in seconds")
    parser.add_argument("--baudrate", type=int, default=9600, help="pace the pty like this line (0: no pacing)")
    parser.add_argument("--control", type=Path, help='JSON file re-read at run time: {"scenario": ...}')
    parser.add_argument("--terminal-id", default="52523535")
    parser.add_argument("--terminal-status", default="00", help="status-enquiry answer, hex (00 ready)")
    parser.add_argument("--reask-delay", type=float, default=2.0, help="seconds before asking again after 84 9C")
    parser.add_argument("--naks", type=int, default=2, help="nak-storm: NAKs before a frame is taken")
    parser.add_argument("--bad-crcs", type=int, default=1, help="corrupted-crc: bad transmissions per frame")
    parser.add_argument("--drop-pause", type=float, default=1.0, help="line-drop: dead line seconds")
    parser.add_argument(
        "--print-mode", choices=("auto", "lines", "blocks"), default="auto", help="auto: 06 D3 if the ECR lists it"
    )
    parser.add_argument("--full-pan", action="store_true", help="TEST ONLY: send an unmasked PAN")
    parser.add_argument("--t2", type=float, default=5.0, help="ACK timeout before repeating a frame")
    parser.add_argument("--currency", type=int, default=RUB, help="the terminal's currency (ISO 4217 numeric)")
    parser.add_argument("--charset", default="cp437", help="receipt charset when the ECR configures none")
    parser.add_argument("--die-with-parent", type=int, metavar="PID", help="exit when process PID exits")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when standard input closes")
    parser.add_argument(
        "--ledger-lock-wait", type=float, default=LEDGER_LOCK_WAIT, help="seconds to wait for a ledger in use"
    )
    return parser


def _die_with_parent(parent: int) -> bool:
    """Ask Linux for SIGTERM when the parent dies (PR_SET_PDEATHSIG); False if it is already gone.

    The kernel means the parent *thread*: ``sim.py`` asks for this only when the main thread starts us,
    and ``--watch-stdin`` covers the rest (a pipe closes only when the whole process is gone)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:  # not Linux: the stdin watch still works
        log.warning("cannot ask to die with the parent: %s", exc)
    return os.getppid() == parent  # checked after prctl: a parent that died just before is seen here


def _watch_stdin() -> None:
    """SIGTERM ourselves when standard input reaches EOF (the parent that holds its pipe is gone)."""

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    """Run the simulator from parsed arguments until SIGTERM/SIGINT."""
    try:
        settings = Settings(
            scenario=normalise_scenario(args.scenario),
            think_time=args.think_time,
            terminal_id=args.terminal_id,
            terminal_status=int(args.terminal_status, 16),
            reask_delay=args.reask_delay,
            naks=args.naks,
            bad_crcs=args.bad_crcs,
            drop_pause=args.drop_pause,
            print_mode=args.print_mode,
            full_pan=args.full_pan,
            currency=args.currency,
            charset=m.normalise_charset(args.charset),
        )
        timing = Timing(t2=args.t2)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_term)
    if args.die_with_parent is not None and not _die_with_parent(args.die_with_parent):
        return 0  # the kiosk that started us is already gone
    if args.watch_stdin:
        _watch_stdin()
    try:
        ledger = Ledger(args.ledger, lock_wait=args.ledger_lock_wait)
    except LedgerLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except _StopError:
        return 0
    try:
        sim = TerminalSimulator(settings, ledger, args.control)
        if args.pty:
            serve_pty(sim, args.baudrate, timing, args.link)
        else:
            host, _, port = str(args.tcp).rpartition(":")
            serve_tcp(sim, host or "127.0.0.1", int(port), timing)
    except (_StopError, KeyboardInterrupt):
        pass
    finally:
        ledger.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m drivers.payment.simulator`` (how ``sim://terminal`` starts it)."""
    os.umask(0o077)  # the ledger is the owner's only, like everything the kiosk creates
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s sim %(levelname)s: %(message)s")
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
