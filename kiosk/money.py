"""Money and coefficients as Russians read them, in one place for screen, paper and explanations.

Pure standard library. Amounts are ``Decimal``; they are rounded half up to kopecks, once, here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["KOPECK", "NBSP", "ru_number", "rub"]

#: No-break space: an amount never breaks across lines ("8 665,00 руб.").
NBSP = "\u00a0"
KOPECK = Decimal("0.01")


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
