"""Our service-card applet: its AID, its commands, its status words and its answer (the wire spec).

A service card holds an applet of ours with a card id and a 32-byte key. The kiosk authenticates it by
challenge–response, never by the readable id alone:

1. ``SELECT``       ``00 A4 04 0C`` Lc AID                     -> ``90 00``
2. ``GET DATA``     ``00 CA 01 01 00``                          -> card id (ASCII) ``90 00``
3. ``INTERNAL AUTHENTICATE`` ``00 88 00 01`` Lc challenge ``00`` -> 32-byte MAC ``90 00``

The MAC is ``HMAC-SHA256(card_key, b"OSAGO-SVC-AUTH-1" || len(id) || id || challenge)`` (``card_mac``).
The kiosk knows every card key because it derives it from its master key and the card id (see
``kiosk.service_access``); the card only ever gets its own key. Both T=0 habits are handled by the
client: ``61 xx`` (fetch with GET RESPONSE) and ``6C xx`` (repeat with the right Le).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Final

from drivers.cardreader.errors import CardCommunicationError, CardRefusedError

__all__ = [
    "AID",
    "AUTH_LABEL",
    "CARD_ID_PATTERN",
    "KEY_SIZE",
    "MAC_SIZE",
    "STATUS_WORDS",
    "Transmit",
    "card_mac",
    "describe_sw",
    "get_data_card_id",
    "internal_authenticate",
    "read_service_card",
    "select_applet",
    "split_response",
    "validate_card_id",
    "validate_challenge",
]

#: F0 = a proprietary, unregistered RID; then "OSAGOSVC" and the applet version 01.
AID: Final = bytes.fromhex("F0") + b"OSAGOSVC" + b"\x01"
AUTH_LABEL: Final = b"OSAGO-SVC-AUTH-1"
KEY_SIZE: Final = 32
MAC_SIZE: Final = 32
CHALLENGE_SIZES: Final = range(8, 65)
#: GET DATA P1-P2 of the card id data object.
CARD_ID_TAG: Final = 0x0101
#: INTERNAL AUTHENTICATE P2: the card's one authentication key.
AUTH_KEY_REF: Final = 0x01

SW_OK: Final = 0x9000
#: Status words the applet uses, with what they mean (shown in diagnostics and logs).
STATUS_WORDS: Final[dict[int, str]] = {
    0x9000: "success",
    0x6700: "wrong length",
    0x6982: "security status not satisfied",
    0x6985: "conditions of use not satisfied (applet not selected)",
    0x6A82: "applet not found on this card",
    0x6A86: "incorrect P1-P2",
    0x6A88: "referenced data not found",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "card fault, no precise diagnosis",
}

#: Card ids: printable, short, safe to show and to write into the journal.
CARD_ID_PATTERN: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")

#: Sends one command APDU, returns the response data and the status word.
Transmit = Callable[[bytes], tuple[bytes, int]]


def split_response(answer: bytes | list[int]) -> tuple[bytes, int]:
    """Response APDU -> (data, SW); ``CardCommunicationError`` when there is no status word."""
    if len(answer) < 2:
        raise CardCommunicationError(f"the card answered {len(answer)} bytes, no status word")
    return bytes(answer[:-2]), answer[-2] << 8 | answer[-1]


def describe_sw(sw: int) -> str:
    """``6A82 applet not found on this card``."""
    meaning = STATUS_WORDS.get(sw)
    if meaning is None and sw >> 8 == 0x63:
        meaning = "warning, non-volatile memory changed"
    return f"{sw:04X} {meaning or 'unknown status'}"


def validate_card_id(card_id: str) -> str:
    """The card id itself, or ``ValueError``: 1–32 of A–Z, 0–9 and ``-``, starting alphanumeric."""
    if not isinstance(card_id, str) or not CARD_ID_PATTERN.fullmatch(card_id):
        raise ValueError(f"a service card id is 1-32 characters A-Z, 0-9 and '-', got {card_id!r}")
    return card_id


def validate_challenge(challenge: bytes) -> bytes:
    """The challenge itself, or ``ValueError`` unless it is 8–64 bytes."""
    if not isinstance(challenge, bytes | bytearray) or len(challenge) not in CHALLENGE_SIZES:
        raise ValueError("a challenge is 8 to 64 random bytes")
    return bytes(challenge)


def card_mac(key: bytes, card_id: str, challenge: bytes) -> bytes:
    """What a card holding ``key`` answers to ``challenge``: the MAC of the spec above."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"a card key is {KEY_SIZE} bytes")
    ident = validate_card_id(card_id).encode("ascii")
    message = AUTH_LABEL + bytes([len(ident)]) + ident + validate_challenge(challenge)
    return hmac.new(key, message, hashlib.sha256).digest()


def _exchange(transmit: Transmit, apdu: bytes) -> tuple[bytes, int]:
    """One command with the T=0 follow-ups: GET RESPONSE on 61xx, repeat with Le on 6Cxx."""
    data, sw = transmit(apdu)
    if sw >> 8 == 0x6C:
        data, sw = transmit(apdu[:-1] + bytes([sw & 0xFF]))
    collected = bytearray(data)
    for _ in range(16):
        if sw >> 8 != 0x61:
            break
        data, sw = transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
        collected += data
    return bytes(collected), sw


def _expect_ok(what: str, sw: int) -> None:
    if sw != SW_OK:
        raise CardRefusedError(f"{what}: {describe_sw(sw)}", sw)


def select_applet(transmit: Transmit) -> None:
    """SELECT our applet by AID (no FCI asked)."""
    _, sw = _exchange(transmit, bytes([0x00, 0xA4, 0x04, 0x0C, len(AID)]) + AID)
    _expect_ok("SELECT service applet", sw)


def get_data_card_id(transmit: Transmit) -> str:
    """GET DATA of the card id, validated."""
    data, sw = _exchange(transmit, bytes([0x00, 0xCA, CARD_ID_TAG >> 8, CARD_ID_TAG & 0xFF, 0x00]))
    _expect_ok("GET DATA card id", sw)
    try:
        return validate_card_id(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise CardCommunicationError(f"card id is not a valid service card id ({len(data)} bytes)") from None


def internal_authenticate(transmit: Transmit, challenge: bytes) -> bytes:
    """INTERNAL AUTHENTICATE: the card's MAC over its id and the challenge."""
    challenge = validate_challenge(challenge)
    apdu = bytes([0x00, 0x88, 0x00, AUTH_KEY_REF, len(challenge)]) + challenge + b"\x00"
    data, sw = _exchange(transmit, apdu)
    _expect_ok("INTERNAL AUTHENTICATE", sw)
    if len(data) != MAC_SIZE:
        raise CardCommunicationError(f"INTERNAL AUTHENTICATE returned {len(data)} bytes, expected {MAC_SIZE}")
    return data


def read_service_card(transmit: Transmit, challenge: bytes) -> tuple[str, bytes]:
    """The whole exchange: select, read the id, answer the challenge. Returns ``(card_id, mac)``."""
    select_applet(transmit)
    card_id = get_data_card_id(transmit)
    return card_id, internal_authenticate(transmit, challenge)
