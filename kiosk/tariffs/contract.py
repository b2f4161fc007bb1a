"""The quote contract: one JSON object in, one JSON object out (see README, "Quote contract").

``parse_request`` turns a decoded JSON object into a :class:`QuoteRequest`, raising
:class:`~kiosk.validation.FieldError` with a plain-Russian message and the JSON path of the first bad
field. ``quote_to_json`` renders a :class:`Quote` with every coefficient as a string. Used by the
``osago-kiosk quote`` command, the touchscreen and the central server alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kiosk.money import parse_amount
from kiosk.tariffs.engine import HP_PER_KW, Driver, OwnerType, Quote, QuoteRequest, Registration
from kiosk.tariffs.model import FACTOR_CODES, TARIFF_CATEGORIES
from kiosk.validation import FieldError, parse_iso_date, parse_number

__all__ = ["PURPOSES", "decode_json", "parse_request", "quote_to_json", "tariff_category"]

#: Purposes of use (the policy form's checkbox list).
PURPOSES: dict[str, str] = {
    "personal": "личная",
    "training": "учебная езда",
    "taxi": "такси",
    "dangerous_goods": "перевозка опасных и легковоспламеняющихся грузов",
    "rental": "прокат / краткосрочная аренда",
    "regular_passenger": "регулярные пассажирские перевозки / перевозки пассажиров по заказам",
    "road_special": "дорожные и специальные ТС",
    "emergency": "экстренные и коммунальные службы",
    "other": "прочее",
}

# Licence categories as people write them (Latin or Cyrillic) → the letter the mapping uses.
_LETTERS = {
    "A": "A", "A1": "A", "M": "A", "B": "B", "BE": "B", "C": "C", "C1": "C", "CE": "C", "C1E": "C",
    "D": "D", "D1": "D", "DE": "D", "D1E": "D", "TB": "TB", "TM": "TM", "TRACTOR": "TRACTOR",
}  # fmt: skip
_CYRILLIC_TO_LATIN = str.maketrans("АВСДЕМТ", "ABCDEMT")
_HEAVY_TRUCK_KG = 16000
_LARGE_BUS_SEATS = 16

# Limits of the contract's numbers: far beyond any vehicle on a road, near enough to refuse nonsense
# (1e400 hp, 1e-400 hp) before it reaches the exact arithmetic of the engine.
MAX_POWER_HP = Decimal(15000)
MAX_POWER_KW = Decimal(11000)  # x 1.35962 stays below MAX_POWER_HP
MAX_MASS_KG = Decimal(1_000_000)
MAX_SEATS = Decimal(1000)
MAX_KT = Decimal(100)
MAX_BASE_RATE = Decimal(1_000_000)
MAX_PERIOD_DAYS = Decimal(366)


def decode_json(text: str) -> dict[str, Any]:
    """Decode the request text: numbers become exact decimals; NaN/Infinity are refused."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"недопустимое значение {constant}")

    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise FieldError(f"Запрос не является корректным JSON: {exc}", "$") from None
    if not isinstance(value, dict):
        raise FieldError("Запрос должен быть JSON-объектом", "$")
    return value


def _object(value: object, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FieldError(f"{what}: ожидается объект", path)
    return value


def _bool(value: object, path: str, what: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(f"{what}: ожидается true или false", path)
    return value


def _int(value: object, path: str, what: str, maximum: Decimal) -> int:
    """A whole JSON number from 1 to ``maximum`` (a string such as ``"12"`` is refused)."""
    return int(parse_number(value, path, what, minimum=Decimal(1), maximum=maximum, places=0))


def _shown(value: object) -> str:
    """A refused value as the message quotes it: short (the request may be 64 KiB of one string)."""
    if isinstance(value, list | dict):
        return "[…]" if isinstance(value, list) else "{…}"
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "<очень большое число>"
    return text if len(text) <= 40 else text[:37] + "…"


def _kbm_class(value: object, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or (isinstance(value, int) and not 0 <= value < 100):
        raise FieldError("Класс КБМ: укажите класс, например «3» или «M»", path)
    text = str(value).strip().upper().translate(_CYRILLIC_TO_LATIN)
    if not text:
        raise FieldError("Класс КБМ: укажите класс, например «3» или «M»", path)
    return text


def tariff_category(vehicle: Mapping[str, Any], owner: OwnerType, purpose: str) -> str:
    """The tariff category of Приложение 1 for a vehicle (category letter plus what refines it)."""
    raw = vehicle.get("category")
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError("Укажите категорию ТС", "vehicle.category")
    text = raw.strip()
    if text in TARIFF_CATEGORIES:
        return text
    letter = _LETTERS.get(text.upper().translate(_CYRILLIC_TO_LATIN))
    if letter is None:
        raise FieldError(f"Неизвестная категория ТС {_shown(raw)}", "vehicle.category")
    if letter == "A":
        return "AM"
    if letter == "B":
        if purpose == "taxi":
            return "B_TAXI"
        return "B_LEGAL" if owner is OwnerType.LEGAL_ENTITY else "B_IND"
    if letter == "C":
        mass = _required_positive(vehicle, "max_mass_kg", "разрешённую максимальную массу грузового ТС, кг")
        return "C_GT16" if mass > _HEAVY_TRUCK_KG else "C_LE16"
    if letter == "D":
        if purpose == "regular_passenger":
            return "D_ROUTE"
        seats = _required_positive(vehicle, "seats", "число пассажирских мест автобуса")
        return "D_GT16" if seats > _LARGE_BUS_SEATS else "D_LE16"
    return letter


def _required_positive(vehicle: Mapping[str, Any], key: str, what: str) -> Decimal:
    """A vehicle figure that refines the tariff category (truck mass, bus seats): a whole JSON number."""
    if vehicle.get(key) is None:
        raise FieldError(f"Укажите {what}", f"vehicle.{key}")
    maximum = MAX_MASS_KG if key == "max_mass_kg" else MAX_SEATS
    return parse_number(vehicle[key], f"vehicle.{key}", what, maximum=maximum, places=0)


def parse_request(doc: Mapping[str, Any]) -> QuoteRequest:
    """Validate a decoded quote request (unknown keys are ignored)."""
    if "date" not in doc:
        raise FieldError("Укажите дату начала договора", "date")
    start = parse_iso_date(doc["date"], "date", "дата начала договора")
    owner = _owner(doc.get("owner", {}))
    if "vehicle" not in doc:
        raise FieldError("Укажите данные транспортного средства", "vehicle")
    vehicle = _object(doc["vehicle"], "vehicle", "Транспортное средство")
    purpose = _choice(vehicle.get("purpose", "personal"), PURPOSES, "vehicle.purpose", "цель использования")
    registration = _registration(vehicle.get("registered", "RU"))
    unfriendly = _bool(
        vehicle.get("unfriendly_state", False), "vehicle.unfriendly_state", "Недружественное государство"
    )
    if unfriendly and registration is not Registration.FOREIGN:
        raise FieldError(
            "Признак недружественного государства — только для ТС, зарегистрированных за рубежом",
            "vehicle.unfriendly_state",
        )
    region_code, locality, kt = _territory(doc.get("territory"), registration)
    drivers, owner_kbm = _drivers(doc)
    period_months = _optional_int(doc, "period_months", "период, месяцев", Decimal(12))
    return QuoteRequest(
        start_date=start,
        category=tariff_category(vehicle, owner, purpose),
        owner_type=owner,
        power_hp=_power_hp(vehicle),
        trailer=_bool(vehicle.get("trailer", False), "vehicle.trailer", "Прицеп"),
        registration=registration,
        unfriendly_state=unfriendly,
        region_code=region_code,
        locality=locality,
        kt=kt,
        base_rate=_base_rate(doc.get("base_rate")),
        period_months=period_months,
        period_days=_optional_int(doc, "period_days", "срок, дней", MAX_PERIOD_DAYS),
        drivers=drivers,
        owner_kbm_class=owner_kbm,
        violations=_bool(doc.get("violations", False), "violations", "Нарушения"),
    )


def _choice(value: object, allowed: Mapping[str, str], path: str, what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise FieldError(f"Неизвестное значение поля «{what}»: {_shown(value)} (допустимо: {', '.join(allowed)})", path)
    return value


def _owner(value: object) -> OwnerType:
    owner = _object(value, "owner", "Собственник")
    kinds = {kind.value: kind.value for kind in OwnerType}
    return OwnerType(_choice(owner.get("type", "individual"), kinds, "owner.type", "тип собственника"))


def _registration(value: object) -> Registration:
    kinds = {kind.value: kind.value for kind in Registration}
    if value == "ru":
        value = "RU"
    return Registration(_choice(value, kinds, "vehicle.registered", "регистрация ТС"))


def _base_rate(value: object) -> Decimal | None:
    """The insurer's ТБ in roubles: money, so the amount rule (a JSON number or ASCII digits as text)."""
    if value is None:
        return None
    parse_amount(value, "base_rate", "базовая ставка", maximum=MAX_BASE_RATE)
    # As given (8665, not 8665.00): the exact product and the explanation keep the rate's own digits.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _optional_int(doc: Mapping[str, Any], key: str, what: str, maximum: Decimal) -> int | None:
    return _int(doc[key], key, what, maximum) if doc.get(key) is not None else None


def _power_hp(vehicle: Mapping[str, Any]) -> Decimal | None:
    """Engine power in hp, a JSON number with at most two decimals; kW are converted (1 kW = 1.35962 hp)."""
    if vehicle.get("power_hp") is not None:
        return parse_number(
            vehicle["power_hp"], "vehicle.power_hp", "мощность двигателя, л.с.", maximum=MAX_POWER_HP, places=2
        )
    if vehicle.get("power_kw") is None:
        return None
    kw = parse_number(
        vehicle["power_kw"], "vehicle.power_kw", "мощность двигателя, кВт", maximum=MAX_POWER_KW, places=2
    )
    return kw * HP_PER_KW


def _territory(value: object, registration: Registration) -> tuple[str | None, str | None, Decimal | None]:
    """(region code, locality, КТ given directly) from the territory object."""
    if value is None:
        if registration is Registration.RU:
            raise FieldError("Укажите территорию: регион и населённый пункт собственника", "territory")
        return None, None, None
    territory = _object(value, "territory", "Территория")
    if "kt" in territory:
        # A coefficient as written in the directive: a JSON number or its digits as text ("1.8").
        return None, None, parse_number(territory["kt"], "territory.kt", "КТ", maximum=MAX_KT, places=4, text=True)
    code = territory.get("region_code")
    text = code.strip() if isinstance(code, str) else str(code) if type(code) is int and 0 < code < 1000 else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise FieldError("Код региона: число, например 77", "territory.region_code")
    locality = territory.get("locality")
    if locality is not None and not isinstance(locality, str):
        raise FieldError("Населённый пункт: ожидается строка", "territory.locality")
    return text.zfill(2), (locality.strip() or None) if locality else None, None


_DRIVER_FIELDS = (("birth_date", "дату рождения"), ("licence_date", "дату начала стажа"), ("kbm_class", "класс КБМ"))


def _drivers(doc: Mapping[str, Any]) -> tuple[tuple[Driver, ...] | None, str | None]:
    """(limited list or None for unlimited, owner's КБМ class for an unlimited list)."""
    value = doc.get("drivers", "unlimited")
    if value == "unlimited":
        if doc.get("owner_kbm_class") is None:
            raise FieldError("Для договора без ограничений укажите класс КБМ собственника", "owner_kbm_class")
        return None, _kbm_class(doc["owner_kbm_class"], "owner_kbm_class")
    if not isinstance(value, list):
        raise FieldError('Водители: список водителей или "unlimited"', "drivers")
    drivers = []
    for index, item in enumerate(value):
        path = f"drivers[{index}]"
        entry = _object(item, path, f"Водитель {index + 1}")
        for key, what in _DRIVER_FIELDS:
            if entry.get(key) is None:
                raise FieldError(f"Водитель {index + 1}: укажите {what}", f"{path}.{key}")
        drivers.append(
            Driver(
                birth_date=parse_iso_date(entry["birth_date"], f"{path}.birth_date", "дата рождения"),
                licence_date=parse_iso_date(entry["licence_date"], f"{path}.licence_date", "дата начала стажа"),
                kbm_class=_kbm_class(entry["kbm_class"], f"{path}.kbm_class"),
            )
        )
    return tuple(drivers), None


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def quote_to_json(quote: Quote) -> dict[str, Any]:
    """The contract's output object (plus details a screen or an auditor can use)."""
    coefficients = {code: str(quote.factor(code).value) for code in FACTOR_CODES}
    coefficients["TB"] = _money(quote.factor("TB").value)
    return {
        "premium": _money(quote.premium),
        "currency": quote.currency,
        "coefficients": coefficients,
        "capped": quote.capped,
        "tariff_version": quote.tariff_version,
        "tariff_in_force_from": quote.tariff_from.isoformat(),
        "category": quote.category,
        "premium_uncapped": str(quote.uncapped),
        "cap": _money(quote.cap),
        "details": [
            {
                "code": factor.code,
                "value": str(factor.value),
                "applied": factor.applied,
                "basis": factor.row.label if factor.applied else "не применяется",
                "source": factor.row.source if factor.applied else "",
                "confidence": factor.row.confidence if factor.applied else "",
                **({"driver": factor.driver} if factor.driver is not None else {}),
            }
            for factor in quote.factors
        ],
        "explanation": quote.explanation(),
    }
