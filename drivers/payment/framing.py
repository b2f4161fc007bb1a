"""ZVT serial framing, apart from any transport (like pyserial's Packetizer).

``DLE STX <APDU, every 0x10 doubled> DLE ETX CRC-lo CRC-hi``. The CRC is what real terminals compute,
CRC-16/KERMIT (reflected 0x8408, init 0, no final XOR) over the un-stuffed APDU plus ETX — the spec
calls it "CRC-XModem", but it is not ``binascii.crc_hqx`` (REPORT §1.3). The CRC bytes are sent raw,
not stuffed.

``FrameDecoder`` is an incremental, DLE-aware state machine: feed it whatever the port returned (one
byte or many) and it yields complete APDUs or ``BadFrame`` events. It never blocks and never needs more
than the bytes it is given; the inter-byte timeout T1 is the link's job (``FrameDecoder.reset``).

A frame whose APDU is only the two control bytes (no length byte) is read as that APDU with an empty
data block: some terminal firmware answers End-of-Day this way (``80 00`` / ``06 0F`` without their
``00``). The CRC proves the bytes are what the terminal sent, and a 2-byte APDU cannot mean anything
else; NAKing it only makes the terminal repeat the same frame until both sides give up (T2 x 3, then
the ECR waits out T4). ``FrameDecoder.repaired`` counts such frames.

For TCP the APDUs are bare; ``ApduAssembler`` reassembles them from arbitrary fragments.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto
from typing import Final

from drivers.payment.apdu import MAX_APDU_DATA, apdu_data_length, apdu_header_size
from drivers.payment.errors import ProtocolError

DLE: Final = 0x10
STX: Final = 0x02
ETX: Final = 0x03
ACK: Final = 0x06
NAK: Final = 0x15
MAX_FRAME_APDU: Final = MAX_APDU_DATA + 5


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE: Final = _crc_table()


def crc16_kermit(data: bytes, crc: int = 0) -> int:
    """CRC-16/KERMIT of ``data`` (check value of b"123456789" is 0x2189)."""
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def frame_crc(apdu: bytes) -> bytes:
    """The two CRC bytes (low first) that follow DLE ETX for this APDU."""
    return crc16_kermit(apdu + bytes([ETX])).to_bytes(2, "little")


def encode_frame(apdu: bytes) -> bytes:
    """The serial frame for one APDU."""
    return bytes([DLE, STX]) + apdu.replace(b"\x10", b"\x10\x10") + bytes([DLE, ETX]) + frame_crc(apdu)


@dataclass(frozen=True)
class BadFrame:
    """A frame that must be answered with NAK (the sender repeats it)."""

    reason: str


class _State(Enum):
    HUNT = auto()  # waiting for DLE STX
    HUNT_DLE = auto()  # saw DLE while hunting
    DATA = auto()
    DATA_DLE = auto()  # saw DLE inside the APDU
    CRC1 = auto()
    CRC2 = auto()


class FrameDecoder:
    """Incremental frame parser. ``feed`` returns APDUs (bytes) and ``BadFrame`` events in order.

    Bytes outside a frame (stray ACK/NAK, line noise) are ignored while hunting for DLE STX;
    ``in_frame`` tells the link whether the T1 inter-byte timer is running.
    """

    def __init__(self) -> None:
        self._state = _State.HUNT
        self._buf = bytearray()
        self._crc_lo = 0
        #: frames that came without their length byte and were read with an empty data block
        self.repaired = 0

    @property
    def hunting(self) -> bool:
        """True between frames (a byte now is not part of any frame: ACK/NAK live here)."""
        return self._state is _State.HUNT

    @property
    def in_frame(self) -> bool:
        return self._state not in (_State.HUNT, _State.HUNT_DLE)

    def reset(self) -> None:
        """Drop a partial frame (after T1 expired) and hunt for the next DLE STX."""
        self._state = _State.HUNT
        self._buf.clear()

    def feed(self, data: bytes) -> list[bytes | BadFrame]:
        events: list[bytes | BadFrame] = []
        for byte in data:
            event = self._step(byte)
            if event is not None:
                events.append(event)
        return events

    def _step(self, byte: int) -> bytes | BadFrame | None:  # noqa: PLR0911, PLR0912 - one branch per transition
        state = self._state
        if state is _State.HUNT:
            if byte == DLE:
                self._state = _State.HUNT_DLE
            return None
        if state is _State.HUNT_DLE:
            if byte == STX:
                self._state = _State.DATA
                self._buf.clear()
            elif byte != DLE:
                self._state = _State.HUNT
            return None
        if state is _State.DATA:
            if byte == DLE:
                self._state = _State.DATA_DLE
            else:
                return self._append(byte)
            return None
        if state is _State.DATA_DLE:
            if byte == DLE:
                self._state = _State.DATA
                return self._append(DLE)
            if byte == ETX:
                self._state = _State.CRC1
                return None
            # A lone DLE followed by anything else is a framing error; DLE STX restarts a frame.
            self._state = _State.DATA if byte == STX else _State.HUNT
            self._buf.clear()
            return BadFrame(f"DLE followed by {byte:02X} inside a frame")
        if state is _State.CRC1:
            self._crc_lo = byte
            self._state = _State.CRC2
            return None
        # CRC2: the frame is complete.
        self._state = _State.HUNT
        apdu = bytes(self._buf)
        self._buf.clear()
        received = self._crc_lo | byte << 8
        expected = crc16_kermit(apdu + bytes([ETX]))
        if received != expected:
            return BadFrame(f"CRC mismatch: got {received:04X}, expected {expected:04X}")
        if len(apdu) == 2:
            self.repaired += 1
            return apdu + b"\x00"  # control field without its length byte (see the module docstring)
        size = apdu_header_size(apdu)
        if size is None or len(apdu) < size:
            return BadFrame("frame shorter than an APDU header")
        try:
            length = apdu_data_length(apdu[:size])
        except ProtocolError as exc:
            return BadFrame(str(exc))
        if len(apdu) - size != length:
            return BadFrame(f"APDU length field {length} but {len(apdu) - size} data bytes")
        return apdu

    def _append(self, byte: int) -> BadFrame | None:
        if len(self._buf) >= MAX_FRAME_APDU:
            self.reset()
            return BadFrame("frame longer than the largest APDU")
        self._buf.append(byte)
        return None


def decode_frame(frame: bytes) -> bytes:
    """The APDU of exactly one complete frame; anything else raises ``ProtocolError``."""
    decoder = FrameDecoder()
    events = decoder.feed(frame)
    if decoder.in_frame or len(events) != 1:
        raise ProtocolError(f"not exactly one complete frame: {frame[:32].hex(' ')}")
    event = events[0]
    if isinstance(event, BadFrame):
        raise ProtocolError(event.reason)
    return event


class ApduAssembler:
    """Reassembles bare APDUs (ZVT over TCP) from arbitrary fragments."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            size = apdu_header_size(bytes(self._buf[:3]))
            if size is None or len(self._buf) < size:
                return out
            length = apdu_data_length(bytes(self._buf[:size]))
            if len(self._buf) < size + length:
                return out
            out.append(bytes(self._buf[: size + length]))
            del self._buf[: size + length]
