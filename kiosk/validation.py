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
    "PLATE_LETTERS",
    "VIN_ALPHABET",
    "FieldError",
    "full_years",
    "normalize_body_number",
    "normalize_email",
    "normalize_licence",
    "normalize_name",
    "normalize_passport",
    "normalize_phone",
    "normalize_plate",
    "normalize_vin",
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


# --------------------------------------------------------------------------------------------------
# Documents and contacts. Each returns the canonical form (what is stored and printed).

#: The twelve Cyrillic letters Russian number plates use, and the Latin letters that look the same.
PLATE_LETTERS = "АВЕКМНОРСТУХ"
_LATIN_LOOKALIKES = str.maketrans("ABEKMHOPCTYX", PLATE_LETTERS)
_PLATE_FORMS = (
    re.compile(rf"[{PLATE_LETTERS}]\d{{3}}[{PLATE_LETTERS}]{{2}}\d{{2,3}}"),  # car: А123ВС77
    re.compile(rf"\d{{4}}[{PLATE_LETTERS}]{{2}}\d{{2,3}}"),  # motorcycle: 1234АВ77
    re.compile(rf"[{PLATE_LETTERS}]{{2}}\d{{3}}\d{{2,3}}"),  # taxi / public transport: АВ12377
    re.compile(rf"[{PLATE_LETTERS}]{{2}}\d{{4}}\d{{2,3}}"),  # trailer: АВ123477
)
#: VIN alphabet: digits and Latin capitals except I, O and Q (ISO 3779).
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN = re.compile(rf"[{VIN_ALPHABET}]{{17}}")
_NAME = re.compile(r"[А-ЯЁа-яё]+(?:[ '\-][А-ЯЁа-яё]+)*")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")


def _compact(value: object, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"Укажите {what}", field)
    return "".join(value.split()).upper()


def normalize_plate(value: object, field: str = "vehicle.plate") -> str:
    """A Russian number plate in canonical Cyrillic form (``А123ВС77``)."""
    plate = _compact(value, field, "госномер").replace("-", "").translate(_LATIN_LOOKALIKES)
    if not any(form.fullmatch(plate) for form in _PLATE_FORMS):
        raise FieldError(f"Госномер: например А123ВС77; допустимые буквы {' '.join(PLATE_LETTERS)}", field)
    return plate


def normalize_vin(value: object, field: str = "vehicle.vin") -> str:
    """A VIN: 17 characters, Latin letters and digits, no I, O or Q."""
    vin = _compact(value, field, "VIN")
    if len(vin) != 17:
        raise FieldError(f"VIN состоит из 17 знаков, введено {len(vin)}", field)
    if not _VIN.fullmatch(vin):
        raise FieldError("VIN: только латинские буквы и цифры, без I, O и Q", field)
    return vin


def normalize_body_number(value: object, field: str = "vehicle.body_number") -> str:
    """A body or chassis number (when there is no VIN): 4–20 letters and digits."""
    number = _compact(value, field, "номер кузова").replace("-", "")
    if not 4 <= len(number) <= 20 or not number.isalnum():
        raise FieldError("Номер кузова: от 4 до 20 букв и цифр", field)
    return number


def normalize_passport(value: object, field: str = "owner.passport") -> str:
    """A Russian passport: series (4 digits) and number (6 digits) as ``4510 123456``."""
    digits = _compact(value, field, "серию и номер паспорта").replace("№", "")
    if not (digits.isdigit() and len(digits) == 10):
        raise FieldError("Паспорт: 4 цифры серии и 6 цифр номера", field)
    return f"{digits[:4]} {digits[4:]}"


def normalize_licence(value: object, field: str = "drivers.licence") -> str:
    """A driving licence: 2 digits, 2 digits or Cyrillic letters, 6 digits — as ``77 01 123456``."""
    text = _compact(value, field, "серию и номер водительского удостоверения").replace("№", "")
    if not re.fullmatch(r"\d{2}(?:\d{2}|[А-ЯЁ]{2})\d{6}", text):
        raise FieldError("Водительское удостоверение: серия из 4 знаков и номер из 6 цифр", field)
    return f"{text[:2]} {text[2:4]} {text[4:]}"


def normalize_phone(value: object, field: str = "owner.phone") -> str:
    """A Russian mobile or landline number as ``+79161234567``."""
    digits = re.sub(r"[\s()\-+]", "", value) if isinstance(value, str) else ""
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or not digits.isdigit():
        raise FieldError("Телефон: +7 и 10 цифр", field)
    return "+7" + digits


def normalize_email(value: object, field: str = "owner.email") -> str:
    """An e-mail address (lower-cased)."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise FieldError("Электронная почта: например name@example.ru", field)
    return value.strip().lower()


def normalize_name(value: object, field: str, what: str = "фамилию") -> str:
    """A name part in Cyrillic (hyphens, spaces and apostrophes inside are allowed)."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"Укажите {what}", field)
    name = " ".join(value.split())
    if len(name) > 60 or not _NAME.fullmatch(name):
        raise FieldError(f"{what.capitalize()}: русскими буквами", field)
    # Each part of a double name starts with a capital: "иванов-петров" → "Иванов-Петров".
    return re.sub(r"(^|[ '\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), name)
