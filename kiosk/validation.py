"""Field validation shared by the quote contract, the touchscreen and the central server.

Pure domain: standard library only. Every failure is a :class:`FieldError` carrying a plain-Russian
message for the customer and the path of the offending field, so a screen can put the message next
to the field and the CLI can report it as ``{"error": ..., "field": ...}``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

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
    "parse_number",
    "parse_ru_date",
    "partial_body_number",
    "partial_decimal",
    "partial_email",
    "partial_licence",
    "partial_name",
    "partial_passport",
    "partial_phone",
    "partial_plate",
    "partial_ru_date",
    "partial_vin",
]


class FieldError(ValueError):
    """A value the customer (or a calling system) gave is not acceptable."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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


_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,30}(?:[.,][0-9]{1,30})?")


def parse_decimal(value: object, field: str, what: str = "значение") -> Decimal:
    """An exact decimal from a JSON number or a numeric string; booleans, NaN and non-ASCII digits are refused.

    Text is ASCII digits with an optional sign and a point or comma (``Decimal()`` alone would also
    take ``"１５０"``, ``"1_0"``, ``"1e400"`` and ``"Infinity"``).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise FieldError(f"{_cap(what)}: нужно число", field)
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            raise FieldError(f"{_cap(what)}: нужно число цифрами 0–9", field)
        return Decimal(text.replace(",", "."))
    # str() first: a JSON float like 110.5 must become Decimal("110.5"), not its binary expansion.
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise FieldError(f"{_cap(what)}: нужно число", field)
    return number


def parse_number(
    value: object,
    field: str,
    what: str,
    *,
    maximum: Decimal,
    places: int,
    minimum: Decimal | None = None,
    text: bool = False,
) -> Decimal:
    """A number of the quote contract: a JSON number (or, with ``text``, digits in a string) in range.

    Refused, each with its own message: ``true``/``false``; a string where ``text`` is not allowed
    (``"150"`` for a power); NaN, infinities; more than ``places`` decimals (so ``1e-400`` is not a
    power); above ``maximum`` (so ``1e400`` is not one either); at or below zero when ``minimum`` is
    None (a positive quantity), else below ``minimum``. Range is checked before precision, so a huge
    exponent never reaches ``quantize``.
    """
    label = _cap(what)
    if isinstance(value, bool):
        raise FieldError(f"{label}: нужно число, а не {'true' if value else 'false'}", field)
    if isinstance(value, str) and not text:
        raise FieldError(f"{label}: нужно число, а не строка (без кавычек)", field)
    if isinstance(value, int) and abs(value) > 10**30:  # as int: never turn a huge integer into text
        raise FieldError(f"{label}: не больше {_plain(maximum)}", field)
    number = parse_decimal(value, field, what)
    if minimum is None and number <= 0:
        raise FieldError(f"{label}: нужно число больше нуля", field)
    if minimum is not None and number < minimum:
        raise FieldError(f"{label}: от {_plain(minimum)} до {_plain(maximum)}", field)
    if number > maximum:
        raise FieldError(f"{label}: не больше {_plain(maximum)}", field)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        detail = "нужно целое число" if places == 0 else f"не больше {places} знаков после запятой"
        raise FieldError(f"{label}: {detail}", field)
    return number


def _cap(what: str) -> str:
    return what[:1].upper() + what[1:]


def _plain(number: Decimal) -> str:
    return f"{number:f}".replace(".", ",")


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
    re.compile(rf"[{PLATE_LETTERS}]\d{{3}}[{PLATE_LETTERS}]{{2}}\d{{2,3}}", re.ASCII),  # car: А123ВС77
    re.compile(rf"\d{{4}}[{PLATE_LETTERS}]{{2}}\d{{2,3}}", re.ASCII),  # motorcycle: 1234АВ77
    re.compile(rf"[{PLATE_LETTERS}]{{2}}\d{{3}}\d{{2,3}}", re.ASCII),  # taxi / public transport: АВ12377
    re.compile(rf"[{PLATE_LETTERS}]{{2}}\d{{4}}\d{{2,3}}", re.ASCII),  # trailer: АВ123477
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
    if not (digits.isascii() and digits.isdigit() and len(digits) == 10):
        raise FieldError("Паспорт: 4 цифры серии и 6 цифр номера", field)
    return f"{digits[:4]} {digits[4:]}"


def normalize_licence(value: object, field: str = "drivers.licence") -> str:
    """A driving licence: 2 digits, 2 digits or Cyrillic letters, 6 digits — as ``77 01 123456``."""
    text = _compact(value, field, "серию и номер водительского удостоверения").replace("№", "")
    if not re.fullmatch(r"\d{2}(?:\d{2}|[А-ЯЁ]{2})\d{6}", text, re.ASCII):
        raise FieldError("Водительское удостоверение: серия из 4 знаков и номер из 6 цифр", field)
    return f"{text[:2]} {text[2:4]} {text[4:]}"


def normalize_phone(value: object, field: str = "owner.phone") -> str:
    """A Russian mobile or landline number as ``+79161234567``."""
    digits = re.sub(r"[\s()\-+]", "", value) if isinstance(value, str) else ""
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
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


# --------------------------------------------------------------------------------------------------
# As the customer types. Each ``partial_*`` takes what is in the field so far and returns it in
# canonical form (upper case, Cyrillic plate letters, dots in a date) while a valid value can still be
# reached by typing more; otherwise it raises the same kind of FieldError the full validator would.
# The screen shows the message at once, next to the field; the full validator decides on "Далее".

_PLATE_SHAPES = ("LDDDLLDDD", "DDDDLLDDD", "LLDDDDDD", "LLDDDDDDD")  # car, motorcycle, taxi, trailer


def _shape_prefix(text: str, shape: str, classes: dict[str, str]) -> bool:
    return len(text) <= len(shape) and all(ch in classes[kind] for ch, kind in zip(text, shape, strict=False))


def _typed(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise FieldError("Неверное значение", field)
    return value


def partial_plate(value: object, field: str = "vehicle.plate") -> str:
    """A plate being typed: a prefix of one of the Russian plate shapes (letters from ``PLATE_LETTERS``)."""
    plate = "".join(_typed(value, field).split()).upper().replace("-", "").translate(_LATIN_LOOKALIKES)
    classes = {"L": PLATE_LETTERS, "D": "0123456789"}
    if not any(_shape_prefix(plate, shape, classes) for shape in _PLATE_SHAPES):
        bad = next((ch for ch in plate if ch not in PLATE_LETTERS and not ch.isdigit()), None)
        if bad is not None:
            raise FieldError(f"Госномер: буква «{bad}» не используется; допустимы {' '.join(PLATE_LETTERS)}", field)
        raise FieldError("Госномер: например А123ВС77", field)
    return plate


def partial_vin(value: object, field: str = "vehicle.vin") -> str:
    """A VIN being typed: at most 17 characters of ``VIN_ALPHABET``."""
    vin = "".join(_typed(value, field).split()).upper()
    if any(ch not in VIN_ALPHABET for ch in vin):
        raise FieldError("VIN: только латинские буквы и цифры, без I, O и Q", field)
    if len(vin) > 17:
        raise FieldError(f"VIN состоит из 17 знаков, введено {len(vin)}", field)
    return vin


def partial_body_number(value: object, field: str = "vehicle.body_number") -> str:
    """A body number being typed: letters and digits, at most 20."""
    number = "".join(_typed(value, field).split()).upper().replace("-", "")
    if len(number) > 20 or (number and not number.isalnum()):
        raise FieldError("Номер кузова: от 4 до 20 букв и цифр", field)
    return number


def partial_passport(value: object, field: str = "owner.passport") -> str:
    """A passport being typed: up to 10 digits, shown as ``4510 123456``."""
    digits = "".join(_typed(value, field).split()).replace("№", "")
    if not digits.isascii() or (digits and not digits.isdigit()) or len(digits) > 10:
        raise FieldError("Паспорт: 4 цифры серии и 6 цифр номера", field)
    return digits if len(digits) <= 4 else f"{digits[:4]} {digits[4:]}"


def partial_licence(value: object, field: str = "drivers.licence") -> str:
    """A driving licence being typed: ``77 01 123456`` or ``77 АВ 123456``."""
    text = "".join(_typed(value, field).split()).upper().replace("№", "")
    classes = {"D": "0123456789", "L": "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"}
    if not (_shape_prefix(text, "DDDDDDDDDD", classes) or _shape_prefix(text, "DDLLDDDDDD", classes)):
        raise FieldError("Водительское удостоверение: серия из 4 знаков и номер из 6 цифр", field)
    return " ".join(part for part in (text[:2], text[2:4], text[4:]) if part)


def partial_phone(value: object, field: str = "owner.phone") -> str:
    """A phone number being typed: digits after +7 (a leading 7 or 8 is the country prefix)."""
    digits = re.sub(r"[\s()\-]", "", _typed(value, field))
    plus = digits.startswith("+")
    digits = digits[1:] if plus else digits
    if (digits and not (digits.isascii() and digits.isdigit())) or (plus and digits[:1] not in ("", "7")):
        raise FieldError("Телефон: +7 и 10 цифр", field)
    limit = 11 if plus or (len(digits) == 11 and digits[0] in "78") else 10
    if len(digits) > limit:
        raise FieldError("Телефон: +7 и 10 цифр", field)
    return digits[1:] if len(digits) == 11 else digits


def partial_email(value: object, field: str = "owner.email") -> str:
    """An e-mail being typed: printable Latin text without spaces and at most one @."""
    text = _typed(value, field).strip()
    if any(ch.isspace() for ch in text) or text.count("@") > 1 or len(text) > 254:
        raise FieldError("Электронная почта: например name@example.ru", field)
    if not (text.isascii() and text.isprintable()):
        raise FieldError("Электронная почта: латинскими буквами", field)
    return text.lower()


_PARTIAL_NAME = re.compile(r"[А-ЯЁа-яё]+(?:[ '\-][А-ЯЁа-яё]+)*[ '\-]?")


def partial_name(value: object, field: str, what: str = "фамилию") -> str:
    """A name being typed: Cyrillic letters, single hyphens/spaces/apostrophes between them."""
    text = _typed(value, field).lstrip()
    if len(text) > 60 or (text and not _PARTIAL_NAME.fullmatch(text)):
        raise FieldError(f"{what.capitalize()}: русскими буквами", field)
    return re.sub(r"(^|[ '\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def parse_ru_date(value: object, field: str, what: str = "дата") -> dt.date:
    """A date as written in Russia, ``ДД.ММ.ГГГГ`` (the digits alone are accepted too)."""
    digits = "".join(ch for ch in value if ch != ".") if isinstance(value, str) else ""
    if not (len(digits) == 8 and digits.isascii() and digits.isdigit()):
        raise FieldError(f"{what.capitalize()}: укажите дату в виде ДД.ММ.ГГГГ", field)
    try:
        return dt.date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        raise FieldError(f"{what.capitalize()}: такой даты не существует", field) from None


def partial_ru_date(value: object, field: str, what: str = "дата") -> str:
    """A date being typed on a digit pad: shown as ``ДД.ММ.ГГГГ`` with the dots put in."""
    text = _typed(value, field).strip()
    digits = text.replace(".", "")
    if len(digits) > 8 or (digits and not (digits.isascii() and digits.isdigit())):
        raise FieldError(f"{what.capitalize()}: укажите дату в виде ДД.ММ.ГГГГ", field)
    day, month, year = digits[:2], digits[2:4], digits[4:]
    if (day and day[0] > "3") or (len(day) == 2 and not 1 <= int(day) <= 31):
        raise FieldError(f"{what.capitalize()}: день от 01 до 31", field)
    if (month and month[0] > "1") or (len(month) == 2 and not 1 <= int(month) <= 12):
        raise FieldError(f"{what.capitalize()}: месяц от 01 до 12", field)
    if (year and year[0] not in "12") or (len(year) >= 2 and year[:2] not in ("19", "20")):
        raise FieldError(f"{what.capitalize()}: год в виде ГГГГ, например 1985", field)
    if len(digits) == 8:
        parse_ru_date(digits, field, what)
    return ".".join(part for part in (day, month, year) if part)


def partial_decimal(value: object, field: str, what: str = "значение", *, digits: int = 4, decimals: int = 0) -> str:
    """A number being typed: up to ``digits`` whole digits and ``decimals`` after a comma."""
    text = _typed(value, field).strip().replace(".", ",")
    whole, comma, fraction = text.partition(",")
    ok = (
        whole.isascii()
        and fraction.isascii()
        and (whole == "" or whole.isdigit())
        and (fraction == "" or fraction.isdigit())
        and len(whole) <= digits
        and len(fraction) <= decimals
        and (not comma or (decimals > 0 and whole != ""))
        and not (len(whole) > 1 and whole[0] == "0")
    )
    if not ok:
        places = f" и до {decimals} знаков после запятой" if decimals else ""
        raise FieldError(f"{what.capitalize()}: до {digits} цифр{places}", field)
    return text
