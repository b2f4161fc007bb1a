"""ZVT messages: building the APDUs each side sends and decoding what the other side sent.

Shared by the ECR driver and the terminal simulator, so both speak exactly the same bytes. Control
fields and formats: command spec PA00P015 §2 (ECR commands), §3 (PT commands), §13 (BMPs).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from drivers.payment.apdu import (
    Apdu,
    Fields,
    Tlv,
    amount_decode,
    amount_encode,
    bcd_decode,
    bcd_encode,
    encode_bmp,
    encode_tlv,
    find_tlv,
    iter_tlv,
    parse_bmps,
    read_lllvar,
)
from drivers.payment.codes import CARD_TYPES, TOTALS_GROUPS
from drivers.payment.errors import ProtocolError

# Control fields.
REGISTRATION: Final = (0x06, 0x00)
AUTHORISATION: Final = (0x06, 0x01)
LOG_OFF: Final = (0x06, 0x02)
COMPLETION: Final = (0x06, 0x0F)
ABORT_PT: Final = (0x06, 0x1E)  # PT -> ECR: negative end of a command
REPEAT_RECEIPT: Final = (0x06, 0x20)
REVERSAL: Final = (0x06, 0x30)
REFUND: Final = (0x06, 0x31)
END_OF_DAY: Final = (0x06, 0x50)
DIAGNOSIS: Final = (0x06, 0x70)
ABORT_ECR: Final = (0x06, 0xB0)  # ECR -> PT: please abort
PRINT_LINE: Final = (0x06, 0xD1)
PRINT_BLOCK: Final = (0x06, 0xD3)
STATUS_ENQUIRY: Final = (0x05, 0x01)
STATUS_INFO: Final = (0x04, 0x0F)
INTERMEDIATE_STATUS: Final = (0x04, 0xFF)
SET_DATE_TIME: Final = (0x04, 0x01)

POSITIVE: Final = Apdu(0x80, 0x00).encode()  # 80 00 00
NOT_FINISHED: Final = Apdu(0x84, 0x9C).encode()  # 84 9C 00: goods not issued yet, ask again

RUB: Final = 643

# Registration config byte: ECR prints payment and admin receipts from print lines (bits 1, 2, 7),
# wants intermediate status (bit 3), and controls payment and admin functions (bits 4, 5).
CONFIG_KIOSK: Final = 0xBE
SERVICE_STATUS_TLV: Final = 0x04  # status-enquiry service byte: completion may carry TLV
# Repeat Receipt service byte (PA00P015 §2.20.1, table 5): bit 0 = "ECR requires Status-Information (as in
# the original transaction)" -- without it a spec terminal sends only the receipt, never the 04 0F that
# says what became of the money; bit 1 = no receipt at all.
REPEAT_STATUS_INFO: Final = 0x01
REPEAT_NO_RECEIPT: Final = 0x02
# Registration completion status byte (§2.1, table 3); bit 4: the PT runs in vending-machine mode
# (issue of goods: it waits for our goods decision and understands 84 9C 00).
STATUS_BYTE_VENDING: Final = 0x10

# The ZVT commands we process when the terminal is master, sent as TLV 26 at Registration (§2.1: "strongly
# recommended"; §9 tag 26). Listing 06 D3 and not 06 D1 asks for receipts as text blocks: without the list a
# terminal falls back to one 06 D1 frame per line (tag 26: "the ECR must explicitly request 06D3"). 04 0F,
# 06 0F and 06 1E are always allowed; 04 FF follows the config byte; 04 01 comes with Diagnosis.
PERMITTED_COMMANDS: Final = ((0x04, 0x0F), (0x06, 0x0F), (0x06, 0x1E), (0x04, 0xFF), (0x06, 0xD3), (0x04, 0x01))

# Receipt and display text charsets (URL option ``charset``) -> TLV 14 code (§9 tag 14: 01..10 ISO 8859-n,
# FE UTF-8, FF CP437 = ZVT default). CP866 and Windows-1251 have no TLV 14 code: a terminal sends them only
# when its vendor configured it so, and the ECR then just decodes with them (nothing to negotiate).
CHARSET_CODES: Final[dict[str, int | None]] = {
    "cp437": 0xFF,
    "iso8859-1": 0x01,
    "iso8859-5": 0x05,
    "utf-8": 0xFE,
    "cp866": None,
    "cp1251": None,
}
DEFAULT_CHARSET: Final = "cp437"


def normalise_charset(name: str) -> str:
    """The codec name of a supported receipt charset ("latin-1" -> "iso8859-1", "windows-1251" -> "cp1251")."""
    try:
        codec = codecs.lookup(name.strip()).name
    except LookupError:
        codec = ""
    if codec not in CHARSET_CODES:
        raise ValueError(f"charset {name!r} is not supported (cp437, cp866, cp1251, latin-1, iso8859-5, utf-8)")
    return codec


def charset_of_code(code: int) -> str | None:
    """The codec for a TLV 14 value we know (None for others)."""
    return next((name for name, value in CHARSET_CODES.items() if value == code), None)


def negative(code: int) -> bytes:
    """84 xx 00: a negative answer (for 04 0F from the ECR: goods not issued, reverse)."""
    return Apdu(0x84, code).encode()


def is_positive(apdu: bytes) -> bool:
    """80 00 and 84 00 are both positive answers (spec exception for 84 00)."""
    return apdu[:2] in (b"\x80\x00", b"\x84\x00")


def is_response(apdu: bytes) -> bool:
    return bool(apdu) and apdu[0] in (0x80, 0x84)


def _password(password: str) -> bytes:
    if len(password) != 6 or not password.isdigit():
        raise ValueError("the ZVT password is six digits")
    return bcd_encode(password)


# --- ECR -> PT commands ----------------------------------------------------------------------


def registration_tlv(charset: str = DEFAULT_CHARSET) -> bytes:
    """The TLV container of our Registration: 26 {0A <command>...} and, for a charset with a TLV 14 code
    other than the default, 27 {14 <code>} (§9 tag 27: one tag 14 configures that charset; the PT echoes it
    in the completion if it accepts it, else it keeps CP437)."""
    tlv = encode_tlv(0x26, [encode_tlv(0x0A, bytes(c)) for c in PERMITTED_COMMANDS])
    code = CHARSET_CODES[normalise_charset(charset)]
    if code is not None and code != CHARSET_CODES[DEFAULT_CHARSET]:
        tlv += encode_tlv(0x27, encode_tlv(0x14, bytes([code])))
    return tlv


def registration(
    password: str, currency: int = RUB, config: int = CONFIG_KIOSK, tlv: bytes = b"", service_byte: int | None = None
) -> bytes:
    """06 00: <password> <config byte> <currency> [03 service byte] [06 TLV] (§2.1: both need the CC)."""
    data = _password(password) + bytes([config]) + bcd_encode(str(currency), 2)
    if service_byte is not None:
        data += encode_bmp(0x03, bytes([service_byte]))
    if tlv:
        data += encode_bmp(0x06, tlv)
    return Apdu(*REGISTRATION, data).encode()


def authorisation(
    minor_units: int, currency: int = RUB, *, timeout: int | None = None, max_status_infos: int | None = None
) -> bytes:
    """06 01: 04 amount, 49 currency, [01 answer timeout s], [02 max. status-infos] (issue of goods)."""
    data = encode_bmp(0x04, amount_encode(minor_units)) + encode_bmp(0x49, bcd_encode(str(currency), 2))
    if timeout is not None:
        data += encode_bmp(0x01, bytes([timeout]))
    if max_status_infos is not None:
        data += encode_bmp(0x02, bytes([max_status_infos]))
    return Apdu(*AUTHORISATION, data).encode()


def reversal(password: str, receipt_no: str) -> bytes:
    """06 30: <password> 87 <receipt no>."""
    return Apdu(*REVERSAL, _password(password) + encode_bmp(0x87, bcd_encode(receipt_no, 2))).encode()


def refund(password: str, minor_units: int, currency: int = RUB) -> bytes:
    """06 31: <password> 04 amount 49 currency."""
    data = _password(password) + encode_bmp(0x04, amount_encode(minor_units))
    data += encode_bmp(0x49, bcd_encode(str(currency), 2))
    return Apdu(*REFUND, data).encode()


def end_of_day(password: str) -> bytes:
    return Apdu(*END_OF_DAY, _password(password)).encode()


def diagnosis() -> bytes:
    return Apdu(*DIAGNOSIS).encode()


def status_enquiry(password: str, service_byte: int | None = None) -> bytes:
    data = _password(password)
    if service_byte is not None:
        data += encode_bmp(0x03, bytes([service_byte]))
    return Apdu(*STATUS_ENQUIRY, data).encode()


def repeat_receipt(password: str, service_byte: int | None = REPEAT_STATUS_INFO) -> bytes:
    """06 20 <password> [03 <service byte>]; by default asks for the Status-Information (§2.20.1)."""
    data = _password(password)
    if service_byte is not None:
        data += encode_bmp(0x03, bytes([service_byte]))
    return Apdu(*REPEAT_RECEIPT, data).encode()


def abort_request() -> bytes:
    return Apdu(*ABORT_ECR).encode()


def log_off() -> bytes:
    return Apdu(*LOG_OFF).encode()


# --- PT -> ECR messages (the simulator builds these) -----------------------------------------


def intermediate_status(code: int, timeout_minutes: int | None = None, texts: Iterable[str] = ()) -> bytes:
    """04 FF <status> [<timeout BCD minutes>] [06 TLV 24 {07 text...}]."""
    data = bytes([code])
    lines = [encode_tlv(0x07, t.encode("ascii")) for t in texts]
    if timeout_minutes is not None or lines:
        data += bcd_encode(str(timeout_minutes or 0), 1)
    if lines:
        data += encode_bmp(0x06, encode_tlv(0x24, lines))
    return Apdu(*INTERMEDIATE_STATUS, data).encode()


def status_information(bmps: Iterable[tuple[int, bytes]], tlv: bytes = b"") -> bytes:
    """04 0F with the given BMPs in order (and an optional TLV container)."""
    data = b"".join(encode_bmp(tag, value) for tag, value in bmps)
    if tlv:
        data += encode_bmp(0x06, tlv)
    return Apdu(*STATUS_INFO, data).encode()


def print_line(text: str, attribute: int = 0x00, charset: str = "cp437") -> bytes:
    return Apdu(*PRINT_LINE, bytes([attribute]) + text.encode(charset, "replace")).encode()


def print_block(lines: Iterable[str], receipt_type: int = 0x02, charset: str = "cp437") -> bytes:
    """06 D3 06 <TLV {1F07 receipt type, 25 {07 line..., 09 FF end of receipt}}>."""
    items = [encode_tlv(0x07, line.encode(charset, "replace")) for line in lines]
    items.append(encode_tlv(0x09, b"\xff"))
    tlv = encode_tlv(0x1F07, bytes([receipt_type])) + encode_tlv(0x25, items)
    return Apdu(*PRINT_BLOCK, encode_bmp(0x06, tlv)).encode()


def completion(data: bytes = b"") -> bytes:
    return Apdu(*COMPLETION, data).encode()


def abort_pt(result_code: int, tlv: bytes = b"", currency: int | None = None) -> bytes:
    """06 1E <result code> [<CC>] [06 TLV]; the CC only with result 6F (wrong currency, §2.2.9)."""
    data = bytes([result_code])
    if currency is not None:
        data += bcd_encode(str(currency), 2)
    data += encode_bmp(0x06, tlv) if tlv else b""
    return Apdu(*ABORT_PT, data).encode()


def wrong_currency(currency: int | None) -> bytes:
    """The PT's answer to a Registration with a currency it does not use: 84 1E xx 6F [<CC>] (§2.1)."""
    data = bytes([0x6F]) + (bcd_encode(str(currency), 2) if currency is not None else b"")
    return Apdu(0x84, 0x1E, data).encode()


# --- decoding PT messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class TotalsLine:
    """One card-type group of End-of-Day individual totals."""

    card_type: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class StatusInfo:
    """What a 04 0F Status-Information says, decoded; card data already masked."""

    result_code: int | None
    amount: Decimal | None = None
    trace: str | None = None
    original_trace: str | None = None
    receipt_no: str | None = None
    turnover_no: str | None = None
    terminal_id: str | None = None
    masked_pan: str | None = None
    auth_code: str | None = None
    card_type: str | None = None
    card_type_id: int | None = None
    currency: int | None = None
    timestamp: datetime | None = None
    additional_text: str | None = None
    display_texts: tuple[str, ...] = ()
    totals: tuple[TotalsLine, ...] = ()
    receipt_range: tuple[str, str] | None = None


def _ascii(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode("latin-1").strip()


def mask_pan(raw: bytes) -> str:
    """BMP 22 nibbles -> a masked PAN string. E nibbles are masked digits, F is padding, D separates
    a track-2-like field from its tail (dropped). If the terminal sent more than first-6/last-4 in
    clear, everything but the last four digits is masked here: a full PAN never leaves the driver."""
    chars: list[str] = []
    for nibble in raw.hex().upper():
        if nibble == "D":
            break
        if nibble == "F":
            continue
        if nibble == "E":
            chars.append("*")
        elif nibble.isdigit():
            chars.append(nibble)
        else:
            raise ProtocolError("PAN contains a non-BCD nibble")
    pan = "".join(chars)
    clear = sum(c.isdigit() for c in pan)
    if "*" not in pan or clear > 10 or (pan[:6].count("*") and clear > 4):
        pan = "*" * max(len(pan) - 4, 0) + pan[-4:]
    return pan


def _timestamp(fields: Fields, tz: ZoneInfo, now: datetime | None) -> datetime | None:
    hhmmss = fields.get(0x0C)
    if hhmmss is None:
        return None
    digits = bcd_decode(hhmmss)
    try:
        clock = time(int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
        now = now or datetime.now(tz)
        full = fields.get(0xAA)
        mmdd = fields.get(0x0D)
        if full is not None:
            ymd = bcd_decode(full)
            day = date(2000 + int(ymd[0:2]), int(ymd[2:4]), int(ymd[4:6]))
        elif mmdd is not None:
            md = bcd_decode(mmdd)
            day = date(now.year, int(md[0:2]), int(md[2:4]))
            if day > now.date() and (day - now.date()).days > 1:
                day = day.replace(year=now.year - 1)  # a December receipt read in January
        else:
            day = now.date()
    except ValueError as exc:
        raise ProtocolError(f"bad date/time: {exc}") from exc
    return datetime.combine(day, clock, tzinfo=tz)


def _totals(raw: bytes) -> tuple[tuple[str, str], tuple[TotalsLine, ...]]:
    # receipt-no start (2 B BCD), end (2 B BCD), then 7 x (count 1 B binary + amount 6 B BCD).
    if len(raw) < 4 + 7 * 7:
        raise ProtocolError("individual totals (BMP 60) too short")
    span = (bcd_decode(raw[0:2]), bcd_decode(raw[2:4]))
    lines = []
    for index, name in enumerate(TOTALS_GROUPS):
        chunk = raw[4 + 7 * index : 11 + 7 * index]
        lines.append(TotalsLine(name, chunk[0], amount_decode(chunk[1:7])))
    return span, tuple(lines)


def decode_status_info(data: bytes, tz: ZoneInfo, now: datetime | None = None) -> StatusInfo:
    """Decode the data block of a 04 0F. Unknown BMPs end the parse without failing it."""
    fields = parse_bmps(data)
    get = fields.get
    result = get(0x27)
    card_id = get(0x8A)
    card_type = _ascii(raw) if (raw := get(0x8B)) is not None else None
    if not card_type and card_id is not None:
        card_type = CARD_TYPES.get(card_id[0])
    span, totals = _totals(raw60) if (raw60 := get(0x60)) is not None else (None, ())
    texts = tuple(_ascii(item.value) for item in iter_tlv(fields.tlv) if item.tag == 0x07)
    trace = bcd_decode(raw) if (raw := get(0x0B)) is not None else None
    long_trace = find_tlv(fields.tlv, 0x1F2B)
    if long_trace is not None and (trace is None or int(trace) == 0):
        trace = bcd_decode(long_trace.value)
    return StatusInfo(
        result_code=result[0] if result else None,
        amount=amount_decode(raw) if (raw := get(0x04)) is not None else None,
        trace=trace,
        original_trace=bcd_decode(raw) if (raw := get(0x37)) is not None else None,
        receipt_no=bcd_decode(raw) if (raw := get(0x87)) is not None else None,
        turnover_no=bcd_decode(raw) if (raw := get(0x88)) is not None else None,
        terminal_id=bcd_decode(raw) if (raw := get(0x29)) is not None else None,
        masked_pan=mask_pan(raw) if (raw := get(0x22)) is not None else None,
        auth_code=_ascii(raw) or None if (raw := get(0x3B)) is not None else None,
        card_type=card_type or None,
        card_type_id=card_id[0] if card_id else None,
        currency=int(bcd_decode(raw)) if (raw := get(0x49)) is not None else None,
        timestamp=_timestamp(fields, tz, now),
        additional_text=_ascii(raw) or None if (raw := get(0x3C)) is not None else None,
        display_texts=texts,
        totals=totals,
        receipt_range=span,
    )


@dataclass(frozen=True)
class Intermediate:
    """04 FF: status code, optional new T4 (minutes), display texts from TLV 24/07."""

    code: int
    timeout_minutes: int | None
    texts: tuple[str, ...]


def decode_intermediate(data: bytes) -> Intermediate:
    if not data:
        raise ProtocolError("intermediate status without a status byte")
    timeout = None
    texts: tuple[str, ...] = ()
    if len(data) >= 2:
        digits = bcd_decode(data[1:2])
        timeout = int(digits)
        fields = parse_bmps(data[2:])
        texts = tuple(_ascii(item.value) for item in iter_tlv(fields.tlv) if item.tag == 0x07)
    return Intermediate(data[0], timeout, texts)


def decode_print_line(data: bytes, charset: str = "cp437") -> tuple[int, str]:
    """06 D1 -> (attribute, text); attribute FF means 'n line feeds' (text is empty)."""
    if not data:
        raise ProtocolError("print line without attribute")
    if data[0] == 0xFF:
        return 0xFF, ""
    return data[0], data[1:].decode(charset, "replace")


def decode_print_block(data: bytes, charset: str = "cp437") -> tuple[int | None, tuple[str, ...], bool]:
    """06 D3 -> (receipt type, text lines, last block of the receipt?)."""
    fields = parse_bmps(data)
    receipt = find_tlv(fields.tlv, 0x1F07)
    lines: list[str] = []
    last = False
    for item in iter_tlv(fields.tlv):
        if item.tag == 0x07:
            lines.append(item.value.decode(charset, "replace"))
        elif item.tag == 0x09 and item.value and item.value[0] & 0x80 and item.value[0] != 0x80:
            last = True
    return (receipt.value[0] if receipt and receipt.value else None), tuple(lines), last


@dataclass(frozen=True)
class EnquiryCompletion:
    """06 0F after a Status-Enquiry: positional [software version LLLVAR] <terminal status> [TLV]."""

    software_version: str | None
    terminal_status: int | None
    tlv: tuple[Tlv, ...]


def decode_enquiry_completion(data: bytes) -> EnquiryCompletion:
    pos = 0
    version = None
    if len(data) >= 3 and all(b & 0xF0 == 0xF0 for b in data[:3]):
        raw, pos = read_lllvar(data, 0)
        version = _ascii(raw)
    status = data[pos] if pos < len(data) else None
    rest = parse_bmps(data[pos + 1 :]) if pos + 1 < len(data) else Fields()
    return EnquiryCompletion(version, status, rest.tlv)


def decode_negative(apdu: bytes) -> tuple[int, int | None]:
    """A negative answer 84 xx [data] -> (result code, currency). 84 1E carries the result in its data
    (§2.1: wrong currency is 84 1E xx 6F [<CC>]); any other 84 xx has it in the APRC."""
    code = apdu[1]
    data = apdu[3:] if len(apdu) > 3 and apdu[2] != 0xFF else b""
    if code == 0x1E and data:
        currency = _currency(data[1:3]) if data[0] == 0x6F and len(data) >= 3 else None
        return data[0], currency
    return code, None


def _currency(raw: bytes) -> int | None:
    try:
        return int(bcd_decode(raw))
    except ProtocolError:
        return None


def decode_abort(data: bytes) -> tuple[int | None, str | None]:
    """06 1E -> (result code, extended error text from TLV 1F17 if any). With result 6F a positional
    2-byte currency code follows the result (§2.2.9) and is skipped."""
    if not data:
        return None, None
    code = data[0]
    text = None
    tail = data[3:] if code == 0x6F and len(data) >= 3 else data[1:]
    try:
        fields = parse_bmps(tail)
        ext = find_tlv(fields.tlv, 0x1F17)
        text = _ascii(ext.value) if ext else None
    except ProtocolError:
        pass  # the result code is what matters; a malformed tail must not hide it
    return code, text


@dataclass(frozen=True)
class RegistrationCompletion:
    """06 0F after Registration (§2.1): [19 status byte] [29 TID] [49 CC] [06 TLV {12, 14/27, 1A, 26 ...}]."""

    status_byte: int | None
    terminal_id: str | None
    currency: int | None
    charset_code: int | None = None  # TLV 27/14 echoed: the charset the PT accepted
    permitted_commands: tuple[tuple[int, int], ...] = ()  # TLV 26: what the PT implements
    max_apdu: int | None = None  # TLV 1A

    @property
    def vending_mode(self) -> bool | None:
        """Status byte bit 4 (table 3): the PT runs in vending-machine mode; None if no status byte came."""
        return None if self.status_byte is None else bool(self.status_byte & STATUS_BYTE_VENDING)


def decode_registration_completion(data: bytes) -> RegistrationCompletion:
    """Decode the data block of the completion that ends a Registration. Unknown BMPs end the parse."""
    fields = parse_bmps(data)
    status = fields.get(0x19)
    tid = fields.get(0x29)
    cc = fields.get(0x49)
    echoed = next((t for t in iter_tlv(fields.tlv) if t.tag == 0x14 and len(t.value) == 1), None)
    commands = tuple((t.value[0], t.value[1]) for t in iter_tlv(fields.tlv) if t.tag == 0x0A and len(t.value) == 2)
    max_apdu = find_tlv(fields.tlv, 0x1A)
    return RegistrationCompletion(
        status[0] if status else None,
        bcd_decode(tid) if tid else None,
        int(bcd_decode(cc)) if cc else None,
        echoed.value[0] if echoed else None,
        commands,
        int.from_bytes(max_apdu.value, "big") if max_apdu and 0 < len(max_apdu.value) <= 2 else None,
    )
