"""Result objects of the payment terminal and the amount rule, shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from drivers.payment.codes import Outcome, result_code
from drivers.payment.errors import InvalidAmountError
from kiosk.money import AmountError, parse_amount

MAX_AMOUNT: Final = Decimal("1000000.00")  # an OSAGO premium is far below; a typo is not


def validate_amount(amount: object, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    """The amount as a Decimal with two places, or ``InvalidAmountError``: positive, at most two
    decimals, at most ``maximum``; text is ASCII digits only (``kiosk.money.parse_amount``, the one
    amount rule). Floats are refused (money is never float)."""
    try:
        return parse_amount(amount, maximum=maximum)
    except AmountError as exc:
        raise InvalidAmountError(f"{_AMOUNT_REFUSALS.get(exc.reason, 'not an amount')}: {amount!r}") from None


_AMOUNT_REFUSALS: Final = {
    "type": "amount must be Decimal, int or str",
    "format": "not an amount (ASCII digits with at most two decimals)",
    "not_finite": "not an amount",
    "negative": "amount must be positive",
    "not_positive": "amount must be positive",
    "above_maximum": "amount above the maximum",
    "decimals": "more than two decimals",
}


def to_minor_units(amount: Decimal) -> int:
    """Kopecks of a validated amount."""
    return int(amount.scaleb(2))


class Fate(StrEnum):
    """What finally happened to the money of a transaction (also the ledger's vocabulary)."""

    PENDING = "pending"  # authorised, waiting for the goods decision
    COMMITTED = "committed"
    REVERSED = "reversed"
    DECLINED = "declined"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"  # the line failed at the commit point: ask the terminal (repeat_receipt)


CARRIED_FIELDS: Final = (
    "amount",
    "receipt_no",
    "trace",
    "masked_pan",
    "auth_code",
    "terminal_id",
    "card_type",
    "timestamp",
)


@dataclass(frozen=True)
class TransactionResult:
    """One transaction as the terminal reported it. ``masked_pan`` is only ever masked."""

    approved: bool
    outcome: Outcome
    result_code: int | None
    result_text: str
    amount: Decimal | None = None
    receipt_no: str | None = None
    trace: str | None = None
    masked_pan: str | None = None
    auth_code: str | None = None
    terminal_id: str | None = None
    card_type: str | None = None
    timestamp: datetime | None = None
    receipt_lines: tuple[str, ...] = ()
    fate: Fate = Fate.UNKNOWN
    original_trace: str | None = None

    def carried(self) -> dict[str, Any]:
        """The fields that identify the transaction, for results that follow it (a Completion)."""
        return {name: getattr(self, name) for name in CARRIED_FIELDS}

    def to_json(self) -> dict[str, object]:
        """The technician CLI's JSON shape (amount as a string, codes as two hex digits)."""
        return {
            "approved": self.approved,
            "outcome": self.outcome.value,
            "fate": self.fate.value,
            "amount": None if self.amount is None else f"{self.amount:.2f}",
            "result_code": None if self.result_code is None else f"{self.result_code:02X}",
            "result_text": self.result_text,
            "receipt_no": self.receipt_no,
            "trace": self.trace,
            "masked_pan": self.masked_pan,
            "auth_code": self.auth_code,
            "terminal_id": self.terminal_id,
            "card_type": self.card_type,
            "timestamp": None if self.timestamp is None else self.timestamp.isoformat(),
            "receipt_lines": list(self.receipt_lines),
        }


@dataclass(frozen=True)
class Authorisation(TransactionResult):
    """The terminal's answer to ``authorise``. If approved, the terminal waits for the goods decision
    (``confirm_goods`` / ``refuse_goods``); ``dialogue`` identifies that wait."""

    dialogue: int = 0


@dataclass(frozen=True)
class Completion(TransactionResult):
    """How an issue-of-goods dialogue ended: ``fate`` is COMMITTED, REVERSED or UNKNOWN."""


def failed(outcome: Outcome, text: str, code: int | None = None, **kw: object) -> TransactionResult:
    """A not-approved result that did not come from a terminal result code (timeouts, faults)."""
    return TransactionResult(False, outcome, code, text, **kw)  # type: ignore[arg-type]


def outcome_of(code: int | None) -> tuple[Outcome, str]:
    """(category, text) for a result code; no code at all is a fault."""
    if code is None:
        return Outcome.FAULT, "no result code"
    row = result_code(code)
    return row.outcome, row.text


@dataclass(frozen=True)
class TerminalStatus:
    """Ready or not (with the reason) — the sale's preflight asks this before any money moves."""

    ready: bool
    reason: str
    status_code: int | None = None
    software_version: str | None = None
    terminal_id: str | None = None
    #: the reason in Russian, for the technician's screen and the journal ("" when only ``reason`` is known)
    text_ru: str = ""
    #: status byte bit 4 at the last Registration: the terminal runs in vending-machine mode (issue of
    #: goods); None before a Registration or when the terminal sent no status byte
    vending_mode: bool | None = None

    @property
    def reason_ru(self) -> str:
        """The Russian reason when there is one, else the driver's own words."""
        return self.text_ru or self.reason


@dataclass(frozen=True)
class Registration:
    """The terminal's answer to Registration (06 00)."""

    terminal_id: str | None
    status_byte: int | None
    currency: int | None
    #: status byte bit 4 (command spec §2.1, table 3); None without a status byte
    vending_mode: bool | None = None
    #: the receipt charset in force after the Registration (the one asked for, or CP437 if refused)
    charset: str | None = None


@dataclass(frozen=True)
class TotalsGroup:
    """Count and amount for one card type."""

    card_type: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Totals:
    """End-of-Day: the batch the terminal closed, per card type and in total."""

    ok: bool
    result_code: int | None
    result_text: str
    count: int
    amount: Decimal
    groups: tuple[TotalsGroup, ...] = ()
    receipt_range: tuple[str, str] | None = None
    trace: str | None = None
    timestamp: datetime | None = None
    receipt_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    """The terminal's diagnosis (06 70): whether it is fit, and its printed report."""

    ok: bool
    result_code: int | None
    result_text: str
    receipt_lines: tuple[str, ...] = field(default_factory=tuple)
