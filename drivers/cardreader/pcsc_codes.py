"""PC/SC constants as data (pcsc-lite's ``pcsclite.h`` values), kept apart from the library binding.

The watcher and its unit tests use these instead of pyscard's module attributes, so the logic can be
exercised with a fake API; an integration test checks every value against pyscard.
"""

from __future__ import annotations

from typing import Final

SCARD_S_SUCCESS: Final = 0x00000000
SCARD_E_CANCELLED: Final = 0x80100002
SCARD_E_UNKNOWN_READER: Final = 0x80100009
SCARD_E_TIMEOUT: Final = 0x8010000A
SCARD_E_SHARING_VIOLATION: Final = 0x8010000B
SCARD_E_NO_SMARTCARD: Final = 0x8010000C
SCARD_F_COMM_ERROR: Final = 0x80100013
SCARD_E_READER_UNAVAILABLE: Final = 0x80100017
SCARD_E_NO_SERVICE: Final = 0x8010001D
SCARD_E_SERVICE_STOPPED: Final = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE: Final = 0x8010002E
SCARD_W_UNRESPONSIVE_CARD: Final = 0x80100066
SCARD_W_UNPOWERED_CARD: Final = 0x80100067
SCARD_W_RESET_CARD: Final = 0x80100068
SCARD_W_REMOVED_CARD: Final = 0x80100069

SCARD_SCOPE_USER: Final = 0
SCARD_SHARE_SHARED: Final = 2
SCARD_PROTOCOL_T0: Final = 0x0001
SCARD_PROTOCOL_T1: Final = 0x0002
SCARD_LEAVE_CARD: Final = 0
SCARD_RESET_CARD: Final = 1

SCARD_STATE_UNAWARE: Final = 0x0000
SCARD_STATE_IGNORE: Final = 0x0001
SCARD_STATE_CHANGED: Final = 0x0002
SCARD_STATE_UNKNOWN: Final = 0x0004
SCARD_STATE_UNAVAILABLE: Final = 0x0008
SCARD_STATE_EMPTY: Final = 0x0010
SCARD_STATE_PRESENT: Final = 0x0020
SCARD_STATE_MUTE: Final = 0x0200

#: pcsc-lite's pseudo reader whose state changes when readers come or go.
PNP_NOTIFICATION: Final = "\\\\?PnP?\\Notification"

#: Result codes the kiosk may meet, with a short English meaning (for logs and diagnostics).
RESULT_CODES: Final[dict[int, tuple[str, str]]] = {
    0x00000000: ("SCARD_S_SUCCESS", "success"),
    0x80100001: ("SCARD_F_INTERNAL_ERROR", "internal error in the PC/SC service"),
    0x80100002: ("SCARD_E_CANCELLED", "request cancelled"),
    0x80100003: ("SCARD_E_INVALID_HANDLE", "invalid handle"),
    0x80100004: ("SCARD_E_INVALID_PARAMETER", "invalid parameter"),
    0x80100006: ("SCARD_E_NO_MEMORY", "out of memory"),
    0x80100008: ("SCARD_E_INSUFFICIENT_BUFFER", "buffer too small"),
    0x80100009: ("SCARD_E_UNKNOWN_READER", "unknown reader"),
    0x8010000A: ("SCARD_E_TIMEOUT", "timeout"),
    0x8010000B: ("SCARD_E_SHARING_VIOLATION", "card in use by another program"),
    0x8010000C: ("SCARD_E_NO_SMARTCARD", "no card in the reader"),
    0x8010000D: ("SCARD_E_UNKNOWN_CARD", "unknown card"),
    0x8010000F: ("SCARD_E_PROTO_MISMATCH", "card protocol mismatch"),
    0x80100010: ("SCARD_E_NOT_READY", "reader or card not ready"),
    0x80100012: ("SCARD_E_SYSTEM_CANCELLED", "cancelled by the system"),
    0x80100013: ("SCARD_F_COMM_ERROR", "communication with the PC/SC service failed"),
    0x80100014: ("SCARD_F_UNKNOWN_ERROR", "unknown error"),
    0x80100015: ("SCARD_E_INVALID_ATR", "invalid ATR"),
    0x80100016: ("SCARD_E_NOT_TRANSACTED", "transaction failed"),
    0x80100017: ("SCARD_E_READER_UNAVAILABLE", "reader unavailable"),
    0x8010001D: ("SCARD_E_NO_SERVICE", "PC/SC service not running"),
    0x8010001E: ("SCARD_E_SERVICE_STOPPED", "PC/SC service stopped"),
    0x8010001F: ("SCARD_E_UNEXPECTED", "unexpected error"),
    0x8010002E: ("SCARD_E_NO_READERS_AVAILABLE", "no reader connected"),
    0x80100065: ("SCARD_W_UNSUPPORTED_CARD", "card not supported"),
    0x80100066: ("SCARD_W_UNRESPONSIVE_CARD", "card does not respond"),
    0x80100067: ("SCARD_W_UNPOWERED_CARD", "card not powered"),
    0x80100068: ("SCARD_W_RESET_CARD", "card was reset"),
    0x80100069: ("SCARD_W_REMOVED_CARD", "card was removed"),
}

#: The service or the reader is gone: the watcher re-establishes its context on these.
SERVICE_LOST: Final = frozenset(
    {
        0x80100001,
        0x80100003,
        SCARD_F_COMM_ERROR,
        SCARD_E_NO_SERVICE,
        SCARD_E_SERVICE_STOPPED,
        0x80100014,
        0x8010001F,
    }
)
#: The card is gone.
CARD_GONE: Final = frozenset({SCARD_E_NO_SMARTCARD, SCARD_W_REMOVED_CARD})


def describe(code: int) -> str:
    """``SCARD_E_NO_SERVICE (0x8010001D): PC/SC service not running``."""
    code &= 0xFFFFFFFF
    name, meaning = RESULT_CODES.get(code, ("SCARD_?", "unknown result"))
    return f"{name} (0x{code:08X}): {meaning}"
