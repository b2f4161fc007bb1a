"""A simulated service card: our applet as a plain APDU processor (no I/O).

The simulator (``sim://cardreader``), the recorder fake and the tests' vpcd virtual card all put this
card behind their transport. It holds a card id and the 32-byte key it was given; it knows nothing of
the kiosk's master key. ``t0=True`` makes it answer like a T=0 card (``61 xx``, then GET RESPONSE).
"""

from __future__ import annotations

from functools import reduce
from operator import xor
from typing import Final, NamedTuple

from drivers.cardreader.applet import (
    AID,
    AUTH_KEY_REF,
    CARD_ID_TAG,
    CHALLENGE_SIZES,
    KEY_SIZE,
    card_mac,
    validate_card_id,
)

__all__ = ["DEFAULT_ATR", "Command", "SimulatedServiceCard", "parse_command"]

_ATR_BODY: Final = bytes.fromhex("85 80 01") + b"OSAGO"
#: A T=1 ATR with the historical bytes "OSAGO" and its check byte (shown, never relied upon).
DEFAULT_ATR: Final = b"\x3b" + _ATR_BODY + bytes([reduce(xor, _ATR_BODY)])


class Command(NamedTuple):
    """A short command APDU taken apart (ISO 7816-4 cases 1-4); ``le`` is None when absent."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None


def parse_command(apdu: bytes) -> Command | None:
    """Split a short APDU; None when its length bytes do not add up."""
    if len(apdu) < 4:
        return None
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0])
    lc = body[0]
    if lc and len(body) == 1 + lc:
        return Command(cla, ins, p1, p2, body[1:], None)
    if lc and len(body) == 2 + lc:
        return Command(cla, ins, p1, p2, body[1:-1], body[-1])
    return None


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class SimulatedServiceCard:
    """Our applet's card side. ``process`` takes a command APDU and returns data + SW1 SW2."""

    def __init__(self, card_id: str, key: bytes, *, atr: bytes = DEFAULT_ATR, t0: bool = False) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"a card key is {KEY_SIZE} bytes")
        self.card_id = validate_card_id(card_id)
        self.atr = bytes(atr)
        self.t0 = t0
        self._key = bytes(key)
        self._selected = False
        self._pending = b""
        #: every command APDU this card received, for tests to look at
        self.commands: list[bytes] = []

    def reset(self) -> None:
        """Power-on or reset: the applet is deselected, pending data dropped."""
        self._selected = False
        self._pending = b""

    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU."""
        self.commands.append(bytes(apdu))
        cmd = parse_command(apdu)
        if cmd is None:
            return _sw(0x6700)
        if cmd.ins == 0xC0 and cmd.cla == 0x00:
            return self._get_response(cmd)
        self._pending = b""
        if cmd.cla != 0x00:
            return _sw(0x6E00)
        if cmd.ins == 0xA4:
            return self._select(cmd)
        if cmd.ins not in (0xCA, 0x88):
            return _sw(0x6D00)
        if not self._selected:
            return _sw(0x6985)
        if cmd.ins == 0xCA:
            return self._get_data(cmd)
        return self._authenticate(cmd)

    def _select(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x04 or cmd.p2 not in (0x00, 0x0C):
            return _sw(0x6A86)
        self._selected = cmd.data == AID
        return _sw(0x9000) if self._selected else _sw(0x6A82)

    def _get_data(self, cmd: Command) -> bytes:
        if cmd.p1 << 8 | cmd.p2 != CARD_ID_TAG:
            return _sw(0x6A88)
        if cmd.data or cmd.le is None:
            return _sw(0x6700)
        return self._reply(self.card_id.encode("ascii"), le=cmd.le)

    def _authenticate(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x00 or cmd.p2 != AUTH_KEY_REF:
            return _sw(0x6A86)
        if len(cmd.data) not in CHALLENGE_SIZES or cmd.le is None:
            return _sw(0x6700)
        return self._reply(card_mac(self._key, self.card_id, cmd.data), le=cmd.le)

    def _reply(self, data: bytes, *, le: int) -> bytes:
        if self.t0:
            self._pending = data
            return bytes([0x61, len(data) & 0xFF])
        if le not in (0, len(data)):
            return bytes([0x6C, len(data) & 0xFF])
        return data + _sw(0x9000)

    def _get_response(self, cmd: Command) -> bytes:
        if not self._pending:
            return _sw(0x6985)
        wanted = cmd.le or 0
        data, self._pending = self._pending[: wanted or 256], self._pending[wanted or 256 :]
        if self._pending:
            return data + bytes([0x61, min(len(self._pending), 255)])
        return data + _sw(0x9000)
