"""ZVT transport links: the serial protocol (frames, ACK/NAK, T1/T2, repeats) and bare TCP.

A link moves whole APDUs. ``send`` returns once the peer has taken the APDU (serial: its ACK byte);
``receive`` returns the next APDU or ``None`` when ``timeout`` passes. Both sides use the same links:
the ECR driver and the terminal simulator (which overrides the protected hooks to inject faults).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from drivers.payment.errors import LinkClosedError, TransportError
from drivers.payment.framing import ACK, NAK, ApduAssembler, BadFrame, FrameDecoder, encode_frame
from drivers.payment.ports import BytePort

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """ZVT timeouts in seconds (transport spec §3.4/§5.2.6) and the number of repeats."""

    t1: float = 0.2  # max pause between two bytes of a frame
    t2: float = 5.0  # max wait for ACK/NAK after a frame
    t3: float = 5.0  # max wait for the answer (80 00 / 84 xx) to a command
    t4: float = 180.0  # max wait for the next message of a running command; restarted by each
    repeats: int = 2  # repeats after NAK or T2 (3 transmissions in all)

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t3", "t4"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not 0 <= self.repeats <= 10:
            raise ValueError("repeats must be between 0 and 10")


class Link(Protocol):
    """Moves APDUs between ECR and terminal."""

    bytes_out: int
    bytes_in: int

    def send(self, apdu: bytes) -> None: ...

    def receive(self, timeout: float) -> bytes | None: ...

    def close(self) -> None: ...


class SerialLink:
    """The ZVT serial transport over a byte port.

    Every received frame is answered at once with ACK (good) or NAK (bad CRC, framing error, or a
    pause above T1 inside the frame), before the application sees it. A sent frame is repeated on NAK
    or after T2 of silence, ``timing.repeats`` times, then ``TransportError``. Frames that arrive
    while we wait for an ACK are acknowledged and queued, never dropped.
    """

    def __init__(self, port: BytePort, timing: Timing | None = None) -> None:
        self.port = port
        self.timing = timing or Timing()
        self._decoder = FrameDecoder()
        self._pending = bytearray()
        self._inbox: deque[bytes] = deque()
        self.bytes_out = 0
        self.bytes_in = 0

    # --- hooks the simulator overrides to misbehave on purpose ---------------------------------

    def _transmit(self, frame: bytes, attempt: int) -> None:
        """Put one transmission of a frame on the line."""
        self._write(frame)

    def _reply_to(self, apdu: bytes) -> int | None:
        """The transport answer to a good frame: ACK, NAK, or None to stay silent and drop it."""
        return ACK

    # --- sending -------------------------------------------------------------------------------

    def send(self, apdu: bytes) -> None:
        frame = encode_frame(apdu)
        for attempt in range(self.timing.repeats + 1):
            self._transmit(frame, attempt)
            reply = self._await_ack(time.monotonic() + self.timing.t2)
            if reply == ACK:
                return
            log.info("frame %s: %s, attempt %d", apdu[:2].hex(" "), "NAK" if reply else "no ACK", attempt + 1)
        raise TransportError(f"no ACK for {apdu[:2].hex(' ')} after {self.timing.repeats + 1} transmissions")

    def _await_ack(self, deadline: float) -> int | None:
        while True:
            byte = self._next_byte(deadline)
            if byte is None:
                if self._decoder.in_frame:
                    self._t1_expired()
                    continue
                return None
            if self._decoder.hunting and byte in (ACK, NAK):
                return byte
            self._feed(byte)

    # --- receiving -----------------------------------------------------------------------------

    def receive(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._inbox:
            byte = self._next_byte(deadline)
            if byte is None:
                if not self._decoder.in_frame:
                    return None
                self._t1_expired()
                continue
            self._feed(byte)
        return self._inbox.popleft()

    def _feed(self, byte: int) -> None:
        repaired = self._decoder.repaired
        for event in self._decoder.feed(bytes([byte])):
            if self._decoder.repaired != repaired and not isinstance(event, BadFrame):
                repaired = self._decoder.repaired
                log.warning(
                    "frame %s came without its length byte (terminal firmware fault): read as empty", event.hex(" ")
                )
            if isinstance(event, BadFrame):
                log.info("bad frame (%s): NAK", event.reason)
                self._write(bytes([NAK]))
                continue
            reply = self._reply_to(event)
            if reply is not None:
                self._write(bytes([reply]))
            if reply == ACK:
                self._inbox.append(event)

    def _t1_expired(self) -> None:
        log.info("pause above T1 inside a frame: NAK")
        self._decoder.reset()
        self._write(bytes([NAK]))

    def _next_byte(self, deadline: float) -> int | None:
        """The next received byte; inside a frame waits at most T1, else until ``deadline``."""
        if not self._pending:
            now = time.monotonic()
            wait = self.timing.t1 if self._decoder.in_frame else deadline - now
            if wait <= 0:
                return None
            data = self.port.read(4096, wait)
            if not data:
                return None
            self.bytes_in += len(data)
            self._pending += data
        byte = self._pending[0]
        del self._pending[0]
        return byte

    def _write(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.port.write(data)

    def discard(self) -> None:
        """Forget partial frames and queued input (after the peer went away)."""
        self._decoder.reset()
        self._pending.clear()
        self._inbox.clear()

    def close(self) -> None:
        self.port.close()


class TcpLink:
    """ZVT over TCP: bare APDUs, no framing, CRC or ACK bytes (transport spec §4)."""

    def __init__(self, port: BytePort, timing: Timing | None = None) -> None:
        self.port = port
        self.timing = timing or Timing()
        self._assembler = ApduAssembler()
        self._inbox: deque[bytes] = deque()
        self.bytes_out = 0
        self.bytes_in = 0

    def send(self, apdu: bytes) -> None:
        self.bytes_out += len(apdu)
        self.port.write(apdu)

    def receive(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._inbox:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            data = self.port.read(4096, wait)
            self.bytes_in += len(data)
            self._inbox.extend(self._assembler.feed(data))
        return self._inbox.popleft()

    def discard(self) -> None:
        self._assembler = ApduAssembler()
        self._inbox.clear()

    def close(self) -> None:
        self.port.close()


__all__ = ["Link", "LinkClosedError", "SerialLink", "TcpLink", "Timing"]
