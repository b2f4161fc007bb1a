"""Money and coefficients as Russians read them, and the one rule for an amount typed as text.

Pure standard library (and the shared ``FieldError``). Amounts are ``Decimal``; they are rounded half
up to kopecks, once, here. Every amount that arrives as text — a technician's ``terminal pay``, a
terminal URL's ``max_amount``, the quote contract's ``base_rate``, the server's wire format, its
config — goes through :func:`parse_amount`, so there is one grammar everywhere: ASCII digits 0–9,
optionally a point and one or two more. ``Decimal()`` alone is not that rule: it also takes
``"１２３.４５"`` (full-width or any other Unicode digits), ``"1_000"``, ``" 12 "``, ``"1e3"`` and ``"NaN"``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from kiosk.validation import FieldError

__all__ = [
    "AMOUNT_PATTERN",
    "AMOUNT_WHOLE_DIGITS",
    "KOPECK",
    "NBSP",
    "AmountError",
    "parse_amount",
    "ru_number",
    "rub",
]

#: No-break space: an amount never breaks across lines ("8 665,00 руб.").
NBSP = "\u00a0"
KOPECK = Decimal("0.01")
#: Whole roubles have at most this many digits in any amount (just under ten billion roubles).
AMOUNT_WHOLE_DIGITS: Final = 10
#: The grammar of an amount as text (also the server's wire format, ``server.schemas.Money``).
#: ``[0-9]``, not ``\d``: in Python's and pydantic's regular expressions ``\d`` is any Unicode digit.
AMOUNT_PATTERN: Final = rf"^[0-9]{{1,{AMOUNT_WHOLE_DIGITS}}}(?:\.[0-9]{{1,2}})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
_LARGEST: Final = Decimal(10**AMOUNT_WHOLE_DIGITS) - KOPECK


class AmountError(FieldError):
    """An amount that breaks the rule; ``reason`` is a code for other modules, the message is Russian.

    Reasons: ``type`` (not text, integer or Decimal — floats and booleans included), ``format`` (text
    that is not ASCII digits with at most two decimals), ``not_finite``, ``decimals`` (more than two),
    ``not_positive``, ``negative``, ``above_maximum``.
    """

    def __init__(self, reason: str, message: str, field: str) -> None:
        super().__init__(message, field)
        self.reason = reason


def parse_amount(
    value: object,
    field: str = "amount",
    what: str = "сумма",
    *,
    maximum: Decimal = _LARGEST,
    allow_zero: bool = False,
) -> Decimal:
    """An amount in roubles with exactly two places, or :class:`AmountError`.

    Text must be ASCII digits with at most two decimals after a point (``"1234.56"``, ``"15"``): no
    sign, spaces, exponent, comma, underscore or non-ASCII digit. An ``int`` or a finite ``Decimal``
    (a JSON number decoded exactly) must have at most two decimals too. Floats are refused: money is
    never binary. The amount is positive (zero too with ``allow_zero``) and at most ``maximum``.
    """
    label = what[:1].upper() + what[1:]
    if isinstance(value, str):
        if not _AMOUNT.fullmatch(value):
            raise AmountError(
                "format", f"{label}: только цифры 0–9 и не больше двух знаков после точки, например 1234.56", field
            )
        number = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        if value >= 10**AMOUNT_WHOLE_DIGITS:  # as int: a million-digit integer must not become a Decimal
            raise AmountError("above_maximum", f"{label}: не больше {rub(maximum)}", field)
        number = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountError("not_finite", f"{label}: нужна сумма цифрами, например 1234.56", field)
        number = value
    else:
        raise AmountError("type", f"{label}: нужна сумма цифрами, например 1234.56", field)
    if number < 0:
        raise AmountError("negative", f"{label}: сумма не может быть отрицательной", field)
    if number == 0 and not allow_zero:
        raise AmountError("not_positive", f"{label}: нужна сумма больше нуля", field)
    if number > maximum:
        raise AmountError("above_maximum", f"{label}: не больше {rub(maximum)}", field)
    # Safe now that the value is bounded: quantizing 1E+400 would itself raise.
    if number != number.quantize(KOPECK):
        raise AmountError("decimals", f"{label}: не больше двух знаков после точки (копейки)", field)
    return number.quantize(KOPECK).copy_abs()


def rub(amount: Decimal, *, kopecks: bool = True) -> str:
    """``Decimal("8432.17")`` → ``8 432,17 руб.``; ``kopecks=False`` rounds to whole roubles."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"money must be finite, not {amount}")
    value = amount.quantize(KOPECK if kopecks else Decimal(1), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):f}".partition(".")
    groups = f"{int(whole):,}".replace(",", NBSP)
    return f"{sign}{groups}{',' + cents if kopecks else ''}{NBSP}руб."


def ru_number(value: Decimal) -> str:
    """A coefficient as given, with a decimal comma: ``Decimal("1.80")`` → ``1,80``."""
    if not isinstance(value, Decimal):
        raise TypeError(f"coefficients must be Decimal, not {type(value).__name__}")
    return f"{value:f}".replace(".", ",")
