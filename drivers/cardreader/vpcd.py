"""The vpcd socket protocol (vsmartcard's virtual reader), both ends.

One frame is a 2-byte big-endian length and a payload. A 1-byte payload from the reader is a control
code (0 power off, 1 power on, 2 reset, 4 get ATR; only "get ATR" is answered); a longer one is a
command APDU, answered with response data + SW1 SW2. Closing the socket removes the card.

``serve_card`` is the card's end (used by the simulator and by the tests' virtual card on a real
vpcd); ``VpcdHost`` is the reader's end, which the in-process simulator uses in place of vpcd. This
module opens no socket: callers hand it a connected one.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Final, Protocol

from drivers.cardreader.applet import split_response
from drivers.cardreader.errors import CardCommunicationError, CardRemovedError

__all__ = [
    "CTRL_ATR",
    "CTRL_OFF",
    "CTRL_ON",
    "CTRL_RESET",
    "VpcdCard",
    "VpcdHost",
    "recv_frame",
    "send_frame",
    "serve_card",
]

CTRL_OFF: Final = 0
CTRL_ON: Final = 1
CTRL_RESET: Final = 2
CTRL_ATR: Final = 4
_LENGTH = struct.Struct(">H")


class VpcdCard(Protocol):
    """What ``serve_card`` needs from a card."""

    atr: bytes

    def reset(self) -> None: ...

    def process(self, apdu: bytes) -> bytes: ...


def send_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one frame."""
    if len(payload) > 0xFFFF:
        raise ValueError("a vpcd frame carries at most 65535 bytes")
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> bytes | None:
    """Receive one frame; None when the peer closed the connection (between or inside a frame)."""
    header = _recv_exact(sock, 2)
    if header is None:
        return None
    (size,) = _LENGTH.unpack(header)
    return _recv_exact(sock, size) if size else b""


def serve_card(sock: socket.socket, card: VpcdCard) -> None:
    """Be the card on ``sock`` until the reader closes it (or the socket is shut down)."""
    while True:
        try:
            frame = recv_frame(sock)
        except OSError:
            return
        if frame is None:
            return
        try:
            if len(frame) == 1:
                if frame[0] == CTRL_ATR:
                    send_frame(sock, card.atr)
                elif frame[0] in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                    card.reset()
            elif frame:
                send_frame(sock, card.process(frame))
        except OSError:
            return


class VpcdHost:
    """The reader's end of one vpcd connection: power, ATR and APDU exchange (thread-safe)."""

    def __init__(self, sock: socket.socket, *, timeout: float = 5.0) -> None:
        self._sock = sock
        self._sock.settimeout(timeout)
        self._lock = threading.Lock()

    def _request(self, payload: bytes) -> bytes:
        with self._lock:
            try:
                send_frame(self._sock, payload)
                answer = recv_frame(self._sock)
            except TimeoutError:
                raise CardCommunicationError("the card did not answer in time") from None
            except OSError as exc:
                raise CardRemovedError(f"card connection lost: {exc}") from None
        if answer is None:
            raise CardRemovedError("the card was removed")
        return answer

    def control(self, code: int) -> None:
        """Power off / on / reset (no answer expected)."""
        with self._lock:
            try:
                send_frame(self._sock, bytes([code]))
            except OSError as exc:
                raise CardRemovedError(f"card connection lost: {exc}") from None

    def atr(self) -> bytes:
        """The card's ATR."""
        return self._request(bytes([CTRL_ATR]))

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send a command APDU; returns (data, SW)."""
        if len(apdu) < 4:
            raise ValueError("a command APDU has at least 4 bytes")
        return split_response(self._request(bytes(apdu)))

    def close(self) -> None:
        """Drop the connection."""
        with contextlib.suppress(OSError):
            self._sock.close()
