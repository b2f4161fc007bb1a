"""A scripted ZVT payment terminal on a real pty, written apart from the product's simulator.

It shares no code with ``drivers.payment``: its own framing (DLE STX … DLE ETX, DLE doubling), its own
CRC (CRC-16/KERMIT written bit by bit from the transport spec PA00P016 §3.3 and REPORT §1.3) and its own
APDU helpers, so a test against it checks the ECR against the spec, not against our own reading of it
twice. A test writes the terminal's side of a dialogue as a function; it runs in a thread while the
test drives the real ECR (``zvt://<pty>``) from the main thread::

    term = ScriptedTerminal()
    def script(t: ScriptedTerminal) -> None:
        t.expect(0x06, 0x00)               # Registration
        t.send(apdu(0x80, 0x00))           # 80 00 00
        ...
    with term.running(script):
        ecr = open_terminal(f"zvt://{term.path}")
        ...

Every frame the ECR sends is acknowledged with 06 at once (or NAKed when its CRC is wrong); every frame
the terminal sends waits for the ECR's 06. ``events`` records what crossed the line with timestamps.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

STX, ETX, DLE, ACK, NAK = 0x02, 0x03, 0x10, 0x06, 0x15


def kermit_crc(data: bytes) -> int:
    """CRC-16/KERMIT, bit by bit: reflected polynomial 0x8408, initial value 0, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def frame(apdu: bytes) -> bytes:
    """DLE STX, the APDU with each DLE doubled, DLE ETX, CRC over APDU + ETX, low byte first."""
    stuffed = b"".join(bytes([b, DLE]) if b == DLE else bytes([b]) for b in apdu)
    crc = kermit_crc(apdu + bytes([ETX]))
    return bytes([DLE, STX]) + stuffed + bytes([DLE, ETX, crc & 0xFF, crc >> 8])


def apdu(cls: int, instr: int, data: bytes = b"") -> bytes:
    """An APDU with a one-byte length (or FF + two bytes little-endian from 255 on)."""
    size = len(data)
    length = bytes([size]) if size < 255 else bytes([0xFF, size & 0xFF, size >> 8])
    return bytes([cls, instr]) + length + data


def bcd(digits: str) -> bytes:
    return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV object with a one-byte tag (short or 81 xx length)."""
    length = bytes([len(value)]) if len(value) < 0x80 else bytes([0x81, len(value)])
    return bytes([tag]) + length + value


@dataclass
class Event:
    """Something that crossed the line: ``kind`` is rx (a frame from the ECR), tx, ack, nak or bad."""

    kind: str
    data: bytes
    at: float = field(default_factory=time.monotonic)


class ScriptError(AssertionError):
    """The ECR did not do what the script expected."""


class ScriptedTerminal:
    """The terminal end of a pty pair, with its own framing; scripts run in a thread."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self.events: list[Event] = []
        self._buffer = bytearray()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # --- bytes ---------------------------------------------------------------------------------

    def _read_byte(self, deadline: float) -> int | None:
        while not self._buffer:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            ready, _, _ = select.select([self.master], [], [], wait)
            if ready:
                with contextlib.suppress(BlockingIOError):
                    self._buffer += os.read(self.master, 4096)
        return self._buffer.pop(0)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                select.select([], [self.master], [], 0.05)

    # --- frames --------------------------------------------------------------------------------

    def receive(self, timeout: float = 10.0) -> bytes | None:
        """The next good frame's APDU from the ECR (acknowledged with 06), or None on silence."""
        deadline = time.monotonic() + timeout
        while True:
            byte = self._read_byte(deadline)
            if byte is None:
                return None
            if byte != DLE or self._read_byte(deadline) != STX:
                continue
            data = bytearray()
            while True:
                byte = self._read_byte(time.monotonic() + 1.0)
                if byte is None:
                    break
                if byte == DLE:
                    nxt = self._read_byte(time.monotonic() + 1.0)
                    if nxt == DLE:
                        data.append(DLE)
                        continue
                    if nxt == ETX:
                        lo, hi = self._read_byte(time.monotonic() + 1.0), self._read_byte(time.monotonic() + 1.0)
                        if lo is not None and hi is not None and lo | hi << 8 == kermit_crc(bytes(data) + b"\x03"):
                            self._write(bytes([ACK]))
                            self.events.append(Event("rx", bytes(data)))
                            return bytes(data)
                    break
                data.append(byte)
            self.events.append(Event("bad", bytes(data)))
            self._write(bytes([NAK]))

    def send(self, raw_apdu: bytes, timeout: float = 5.0) -> None:
        """Send one APDU (given with its length byte, or deliberately without) and wait for the ECR's 06."""
        self._write(frame(raw_apdu))
        self.events.append(Event("tx", raw_apdu))
        deadline = time.monotonic() + timeout
        while True:
            byte = self._read_byte(deadline)
            if byte is None:
                raise ScriptError(f"no ACK for {raw_apdu.hex(' ')}")
            if byte in (ACK, NAK):
                self.events.append(Event("ack" if byte == ACK else "nak", raw_apdu))
                if byte == NAK:
                    raise ScriptError(f"the ECR NAKed {raw_apdu.hex(' ')}")
                return

    def expect(self, cls: int, instr: int, timeout: float = 10.0) -> bytes:
        """Receive the next APDU and check its control field; returns its data block."""
        got = self.receive(timeout)
        if got is None:
            raise ScriptError(f"expected {cls:02X} {instr:02X}, the ECR was silent")
        if got[:2] != bytes([cls, instr]):
            raise ScriptError(f"expected {cls:02X} {instr:02X}, got {got.hex(' ')}")
        size = got[2]
        return got[5:] if size == 0xFF else got[3:]

    def command(self, raw_apdu: bytes) -> None:
        """Send a PT command and require the ECR's application answer 80 00 00."""
        self.send(raw_apdu)
        self.expect(0x80, 0x00)

    # --- running scripts -----------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self, script: Callable[[ScriptedTerminal], None]) -> Iterator[ScriptedTerminal]:
        """Run ``script`` in a thread for the duration of the block; its failure fails the test."""

        def run() -> None:
            try:
                script(self)
            except BaseException as exc:  # re-raised in the test's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name="scripted-terminal", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._thread.join(timeout=60)
            self.close()
        if self._error is not None:
            raise self._error
        if self._thread.is_alive():
            raise ScriptError("the script did not finish")

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- common dialogues ------------------------------------------------------------------------

    def registration(self, status_byte: int = 0x10, tlv_reply: bytes = b"") -> bytes:
        """Answer a Registration: 80 00 00, then 06 0F [19 status] 29 TID 49 CC [06 TLV]. Returns its data."""
        data = self.expect(0x06, 0x00)
        self.send(apdu(0x80, 0x00))
        body = bytes([0x19, status_byte, 0x29]) + bcd("29001234") + b"\x49" + data[4:6]
        if tlv_reply:
            body += b"\x06" + bytes([len(tlv_reply)]) + tlv_reply
        self.command(apdu(0x06, 0x0F, body))
        return data
