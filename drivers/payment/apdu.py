"""ZVT application data units: control field + length + data, BMP fields, TLV containers, BCD.

Pure functions on bytes; no I/O. Every decoder raises only ``ProtocolError`` on bad input and is
bounded by the input length (no loops that can spin), which the hypothesis tests check.

References: transport/application spec PA00P016 §5.2 (APDU, extended length, LLVAR/LLLVAR),
command spec PA00P015 §9 (TLV) and §13 (BMP formats).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from drivers.payment.errors import ProtocolError

MAX_APDU_DATA: Final = 0xFFFF
LLVAR: Final = -2
LLLVAR: Final = -3
TLV: Final = -1

# BMP number -> fixed length in bytes, or LLVAR / LLLVAR / TLV (spec §13).
BMP_FORMATS: Final[dict[int, int]] = {
    0x01: 1,  # timeout (s)
    0x02: 1,  # max. number of status-infos
    0x03: 1,  # service byte
    0x04: 6,  # amount, BCD minor units
    0x05: 1,  # pump number
    0x06: TLV,
    0x0B: 3,  # trace number
    0x0C: 3,  # time HHMMSS
    0x0D: 2,  # date MMDD
    0x0E: 2,  # expiry YYMM
    0x17: 2,  # card sequence number
    0x19: 1,  # status / payment type
    0x22: LLVAR,  # PAN, BCD, E = masked digit
    0x23: LLVAR,  # track 2
    0x24: LLLVAR,  # track 3
    0x27: 1,  # result code
    0x29: 4,  # terminal ID
    0x2A: 15,  # VU number
    0x2D: LLVAR,  # track 1
    0x2E: LLLVAR,  # sync chip data
    0x37: 3,  # original trace
    0x3A: 2,  # CVV
    0x3B: 8,  # approval code ("AID")
    0x3C: LLLVAR,  # additional text
    0x3D: 3,  # password
    0x49: 2,  # currency code
    0x4C: LLVAR,  # blocked goods groups
    0x60: LLLVAR,  # individual totals
    0x87: 2,  # receipt number
    0x88: 3,  # turnover record number
    0x8A: 1,  # card type
    0x8B: LLVAR,  # card name
    0x8C: 1,  # card type ID of the network operator
    0x92: LLLVAR,  # additional data ec-Cash with chip
    0x9A: LLLVAR,  # Geldkarte payment data
    0xA0: 1,  # result code AS
    0xA7: LLVAR,  # chip data
    0xAA: 3,  # date YYMMDD
    0xAF: LLLVAR,  # EF_Info
    0xBA: 5,  # AID parameter
    0xD0: 1,  # algorithm key
    0xD1: LLVAR,  # offset
    0xD2: 1,  # card output direction
    0xD3: 1,  # key position
    0xE0: 1,  # min. length of input
    0xE9: 1,  # max. length of input
    0xEA: 1,  # echo input
    0xEB: 8,  # MAC
    0xF0: 1,  # display duration
    **{tag: LLVAR for tag in range(0xE1, 0xE9)},  # text lines for input
    **{tag: LLVAR for tag in range(0xF1, 0xF9)},  # display text lines
}


# --- BCD ------------------------------------------------------------------------------------


def bcd_encode(digits: str, size: int | None = None) -> bytes:
    """Packed BCD of a digit string, left-padded with zeros to ``size`` bytes when given."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"not a digit string: {digits!r}")
    if size is not None:
        if len(digits) > 2 * size:
            raise ValueError(f"{digits!r} does not fit in {size} BCD bytes")
        digits = digits.rjust(2 * size, "0")
    elif len(digits) % 2:
        digits = "0" + digits
    return bytes.fromhex(digits)


def bcd_decode(data: bytes) -> str:
    """The digit string of packed BCD; any nibble above 9 is a protocol error."""
    text = data.hex()
    if not text.isdigit():
        raise ProtocolError(f"not BCD: {data.hex(' ')}")
    return text


def amount_encode(minor_units: int) -> bytes:
    """BMP 04 value: 6-byte BCD of the amount in minor units (kopecks)."""
    if not 0 <= minor_units <= 999_999_999_999:
        raise ValueError(f"amount out of range: {minor_units}")
    return bcd_encode(str(minor_units), 6)


def amount_decode(data: bytes) -> Decimal:
    """BMP 04 value -> Decimal in major units with two decimals."""
    if len(data) != 6:
        raise ProtocolError(f"amount must be 6 bytes, got {len(data)}")
    return Decimal(int(bcd_decode(data))).scaleb(-2)


# --- APDU ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Apdu:
    """One APDU: two control bytes (CLASS INSTR, or CCRC APRC for responses) and the data block."""

    cls: int
    instr: int
    data: bytes = b""

    @property
    def control(self) -> tuple[int, int]:
        return (self.cls, self.instr)

    def encode(self) -> bytes:
        """The APDU bytes with a 1-byte length, or FF + 2-byte little-endian length from 255 on."""
        n = len(self.data)
        if n > MAX_APDU_DATA:
            raise ValueError(f"APDU data too long: {n}")
        length = bytes([n]) if n < 0xFF else b"\xff" + n.to_bytes(2, "little")
        return bytes([self.cls, self.instr]) + length + self.data

    def __str__(self) -> str:
        return f"{self.cls:02X} {self.instr:02X} [{len(self.data)}] {self.data.hex(' ').upper()}"


def apdu_header_size(head: bytes) -> int | None:
    """Size of the control+length header given its first 3 bytes (3 or 5); None if more are needed."""
    if len(head) < 3:
        return None
    return 5 if head[2] == 0xFF else 3


def apdu_data_length(header: bytes) -> int:
    """The data length announced by a complete header (3 or 5 bytes)."""
    if len(header) == 3 and header[2] != 0xFF:
        return header[2]
    if len(header) == 5 and header[2] == 0xFF:
        return int.from_bytes(header[3:5], "little")
    raise ProtocolError(f"bad APDU header {header.hex(' ')}")


def decode_apdu(raw: bytes) -> Apdu:
    """Parse one complete APDU; the length field must match the data exactly."""
    size = apdu_header_size(raw)
    if size is None or len(raw) < size:
        raise ProtocolError(f"APDU too short: {raw.hex(' ')}")
    length = apdu_data_length(raw[:size])
    data = raw[size:]
    if len(data) != length:
        raise ProtocolError(f"APDU length field says {length}, data has {len(data)} bytes")
    return Apdu(raw[0], raw[1], bytes(data))


# --- TLV (BMP 06) -------------------------------------------------------------------------------

MAX_TLV_DEPTH: Final = 8


@dataclass(frozen=True)
class Tlv:
    """A TLV data object; constructed objects carry their parsed children."""

    tag: int
    value: bytes
    children: tuple[Tlv, ...] = ()

    @property
    def constructed(self) -> bool:
        return bool(_first_tag_byte(self.tag) & 0x20)

    def find(self, tag: int) -> Tlv | None:
        """The first descendant (depth first) with this tag."""
        return find_tlv(self.children, tag)


def _first_tag_byte(tag: int) -> int:
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")[0]


def tlv_length_encode(n: int) -> bytes:
    """BER length: short form up to 127, then 81 xx, 82 hi lo (big-endian)."""
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise ValueError(f"TLV length too large: {n}")


def _read_tlv_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise ProtocolError("TLV length missing")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if first == 0x80 or count > 2:
        raise ProtocolError(f"unsupported TLV length form {first:02X}")
    if pos + 1 + count > len(data):
        raise ProtocolError("TLV length truncated")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def _read_tlv_tag(data: bytes, pos: int) -> tuple[int, int]:
    start = pos
    if pos >= len(data):
        raise ProtocolError("TLV tag missing")
    pos += 1
    if data[start] & 0x1F == 0x1F:
        # Multi-byte tag: following bytes while bit 8 says "another byte follows" (max 4 bytes).
        while True:
            if pos >= len(data) or pos - start >= 4:
                raise ProtocolError("TLV tag truncated or too long")
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    return int.from_bytes(data[start:pos], "big"), pos


def parse_tlv(data: bytes, depth: int = 0) -> tuple[Tlv, ...]:
    """Parse a sequence of TLV objects; constructed ones are parsed recursively (bounded depth).

    Unknown tags are kept as they are (the length says how far to skip); only malformed
    structure raises ``ProtocolError``.
    """
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        tag, pos = _read_tlv_tag(data, pos)
        length, pos = _read_tlv_length(data, pos)
        if pos + length > len(data):
            raise ProtocolError(f"TLV {tag:X} value truncated")
        value = data[pos : pos + length]
        pos += length
        children: tuple[Tlv, ...] = ()
        if _first_tag_byte(tag) & 0x20 and depth < MAX_TLV_DEPTH:
            children = parse_tlv(value, depth + 1)
        items.append(Tlv(tag, value, children))
    return tuple(items)


def encode_tlv(tag: int, value: bytes | Iterable[bytes]) -> bytes:
    """One TLV object; ``value`` may be a list of already-encoded children."""
    body = value if isinstance(value, bytes) else b"".join(value)
    return tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big") + tlv_length_encode(len(body)) + body


def iter_tlv(items: Iterable[Tlv]) -> Iterator[Tlv]:
    """All objects, depth first."""
    for item in items:
        yield item
        yield from iter_tlv(item.children)


def find_tlv(items: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first object with this tag anywhere in the tree."""
    return next((item for item in iter_tlv(items) if item.tag == tag), None)


# --- BMP fields ----------------------------------------------------------------------------------


def _read_var_length(data: bytes, pos: int, digits: int) -> tuple[int, int]:
    if pos + digits > len(data):
        raise ProtocolError("LLVAR/LLLVAR length truncated")
    value = 0
    for byte in data[pos : pos + digits]:
        if byte & 0xF0 != 0xF0 or byte & 0x0F > 9:
            raise ProtocolError(f"bad LLVAR/LLLVAR length byte {byte:02X}")
        value = value * 10 + (byte & 0x0F)
    return value, pos + digits


def var_length_encode(n: int, digits: int) -> bytes:
    """LLVAR (2 digits) or LLLVAR (3 digits) length prefix: F<d> per decimal digit."""
    text = str(n).rjust(digits, "0")
    if len(text) > digits:
        raise ValueError(f"{n} does not fit an {digits}-digit length")
    return bytes(0xF0 | int(c) for c in text)


@dataclass(frozen=True)
class Fields:
    """The BMPs of a data block. Parsing stops at the first unknown BMP (its length is unknowable);
    what could not be parsed is kept in ``unparsed`` rather than raising."""

    bmps: dict[int, bytes] = field(default_factory=dict)
    tlv: tuple[Tlv, ...] = ()
    unparsed: bytes = b""

    def get(self, tag: int) -> bytes | None:
        return self.bmps.get(tag)

    def __contains__(self, tag: object) -> bool:
        return tag in self.bmps


def parse_bmps(data: bytes) -> Fields:
    """Parse a data block made of BMPs (any order). Malformed known BMPs raise ``ProtocolError``."""
    bmps: dict[int, bytes] = {}
    tlv: tuple[Tlv, ...] = ()
    pos = 0
    while pos < len(data):
        tag = data[pos]
        fmt = BMP_FORMATS.get(tag)
        if fmt is None:
            return Fields(bmps, tlv, data[pos:])
        pos += 1
        if fmt == TLV:
            length, pos = _read_tlv_length(data, pos)
        elif fmt in (LLVAR, LLLVAR):
            length, pos = _read_var_length(data, pos, -fmt)
        else:
            length = fmt
        if pos + length > len(data):
            raise ProtocolError(f"BMP {tag:02X} truncated")
        value = data[pos : pos + length]
        pos += length
        if fmt == TLV:
            tlv = tlv + parse_tlv(value)
        bmps[tag] = value
    return Fields(bmps, tlv)


def encode_bmp(tag: int, value: bytes) -> bytes:
    """One BMP with its length prefix as its format requires."""
    fmt = BMP_FORMATS.get(tag)
    if fmt is None:
        raise ValueError(f"unknown BMP {tag:02X}")
    if fmt == TLV:
        return bytes([tag]) + tlv_length_encode(len(value)) + value
    if fmt in (LLVAR, LLLVAR):
        return bytes([tag]) + var_length_encode(len(value), -fmt) + value
    if len(value) != fmt:
        raise ValueError(f"BMP {tag:02X} needs {fmt} bytes, got {len(value)}")
    return bytes([tag]) + value


def read_lllvar(data: bytes, pos: int = 0) -> tuple[bytes, int]:
    """A bare LLLVAR value at ``pos`` (used by the Status-Enquiry completion's software version)."""
    length, pos = _read_var_length(data, pos, 3)
    if pos + length > len(data):
        raise ProtocolError("LLLVAR value truncated")
    return data[pos : pos + length], pos + length
