"""Field validation shared by the quote contract, the touchscreen and the central server.

Pure domain: standard library only. Every failure is a :class:`FieldError` carrying a plain-Russian
message for the customer and the path of the offending field, so a screen can put the message next
to the field and the CLI can report it as ``{"error": ..., "field": ...}``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "FieldError",
    "full_years",
    "parse_decimal",
    "parse_iso_date",
]


class FieldError(ValueError):
    """A value the customer (or a calling system) gave is not acceptable."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_date(value: object, field: str, what: str = "дата") -> dt.date:
    """An ISO calendar date (``YYYY-MM-DD``); anything else is a :class:`FieldError`."""
    if isinstance(value, dt.datetime):
        raise FieldError(f"{what.capitalize()}: нужна дата без времени (ГГГГ-ММ-ДД)", field)
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise FieldError(f"{what.capitalize()}: укажите дату в виде ГГГГ-ММ-ДД", field)
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(f"{what.capitalize()}: такой даты не существует", field) from None


def parse_decimal(value: object, field: str, what: str = "значение") -> Decimal:
    """An exact decimal from a JSON number or a numeric string; booleans and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise FieldError(f"{what.capitalize()}: нужно число", field)
    try:
        # str() first: a JSON float like 110.5 must become Decimal("110.5"), not its binary expansion.
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise FieldError(f"{what.capitalize()}: нужно число", field) from None
    if not number.is_finite():
        raise FieldError(f"{what.capitalize()}: нужно число", field)
    return number


def full_years(start: dt.date, on: dt.date) -> int:
    """Whole years from ``start`` to ``on`` (age or driving experience on a given day).

    A person born on 29 February completes a year on 1 March in non-leap years.
    """
    return on.year - start.year - ((on.month, on.day) < (start.month, start.day))
