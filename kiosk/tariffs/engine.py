"""The premium: П = ТБ × КТ × КБМ × КВС × КО × КМ × КС × КН × КП × КПр, capped, rounded once.

Pure and exact: no I/O, ``Decimal`` only. The product is computed in a context that traps inexact
results, so a premium is never silently rounded before the single final rounding to kopecks. Every
coefficient comes back with the table row it was taken from, so the screen can explain the price.
Errors are :class:`~kiosk.validation.FieldError` with a plain-Russian message and the path of the
field in the quote contract (``drivers[1].licence_date``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation

from kiosk.money import ru_number, rub
from kiosk.tariffs.base_rates import BaseRates
from kiosk.tariffs.loader import TariffBook, locality_key
from kiosk.tariffs.model import TARIFF_CATEGORIES, Formula, Row, Tariff
from kiosk.validation import FieldError, full_years

__all__ = [
    "HP_PER_KW",
    "MIN_DRIVER_AGE",
    "Driver",
    "Factor",
    "OwnerType",
    "Quote",
    "QuoteRequest",
    "Registration",
    "TariffEngine",
]

#: 1 kW in metric horsepower (Приложение 4: power in hp; kW are converted).
HP_PER_KW = Decimal("1.35962")
#: Youngest age at which anyone may hold a driving licence (category A1/M). Experience is capped by it.
MIN_DRIVER_AGE = 16
#: The largest limited driver list a kiosk contract accepts.
MAX_DRIVERS = 5

_KOPECK = Decimal("0.01")
_ONE = Decimal(1)
# Exact arithmetic: any rounding inside the product raises instead of passing unnoticed.
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP, traps=[Inexact, InvalidOperation])
_NOT_APPLIED = Row(_ONE, "не применяется", "")


class OwnerType(enum.Enum):
    """Who owns the vehicle and concludes the contract."""

    INDIVIDUAL = "individual"
    LEGAL_ENTITY = "legal_entity"


class Registration(enum.Enum):
    """Where the vehicle is registered."""

    RU = "RU"
    FOREIGN = "foreign"
    #: following to the place of registration (bought, not yet registered)
    TRANSIT = "transit"


@dataclass(frozen=True, slots=True)
class Driver:
    """A driver on a limited list, with the КБМ class the insurance database reported."""

    birth_date: dt.date
    licence_date: dt.date
    kbm_class: str


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    """Everything the premium depends on. ``drivers is None`` means an unlimited driver list."""

    start_date: dt.date
    category: str
    owner_type: OwnerType = OwnerType.INDIVIDUAL
    power_hp: Decimal | None = None
    trailer: bool = False
    registration: Registration = Registration.RU
    unfriendly_state: bool = False
    region_code: str | None = None
    locality: str | None = None
    kt: Decimal | None = None
    base_rate: Decimal | None = None
    period_months: int | None = None
    period_days: int | None = None
    drivers: tuple[Driver, ...] | None = None
    owner_kbm_class: str | None = None
    violations: bool = False


@dataclass(frozen=True, slots=True)
class Factor:
    """One coefficient of the premium: its value, whether it applies and where it came from."""

    code: str
    value: Decimal
    applied: bool
    row: Row
    #: index of the driver it was taken from (worst КБМ / КВС of a limited list)
    driver: int | None = None

    def describe(self) -> str:
        """A line for the customer, e.g. ``КТ (территория): 1,8 — Москва, прочие населённые пункты``."""
        name = _FACTOR_NAMES[self.code]
        if not self.applied:
            return f"{name}: не применяется"
        who = f" (водитель {self.driver + 1})" if self.driver is not None else ""
        value = rub(self.value) if self.code == "TB" else ru_number(self.value)
        return f"{name}: {value} — {self.row.label}{who}"


_FACTOR_NAMES = {
    "TB": "ТБ (базовая ставка)",
    "KT": "КТ (территория)",
    "KBM": "КБМ (бонус-малус)",
    "KVS": "КВС (возраст и стаж)",
    "KO": "КО (список водителей)",
    "KM": "КМ (мощность)",
    "KS": "КС (период использования)",
    "KN": "КН (нарушения)",
    "KP": "КП (срок страхования)",
    "KPr": "КПр (прицеп)",
}


@dataclass(frozen=True, slots=True)
class Quote:
    """The premium and how it was made up."""

    premium: Decimal
    uncapped: Decimal
    cap: Decimal
    capped: bool
    factors: tuple[Factor, ...]
    tariff_version: str
    tariff_from: dt.date
    category: str
    currency: str = "RUB"

    def factor(self, code: str) -> Factor:
        """The factor with this code (TB, KT, KBM, …)."""
        for factor in self.factors:
            if factor.code == code:
                return factor
        raise KeyError(code)

    def explanation(self) -> list[str]:
        """One Russian line per coefficient, then the cap if it applied."""
        lines = [factor.describe() for factor in self.factors]
        if self.capped:
            lines.append(f"Премия ограничена предельным размером {rub(self.cap)} (ст. 9 40-ФЗ)")
        return lines


class TariffEngine:
    """Prices quote requests against a tariff book and the insurer's base rates."""

    def __init__(self, book: TariffBook, base_rates: BaseRates) -> None:
        self.book = book
        self.base_rates = base_rates

    def tariff_for(self, day: dt.date) -> Tariff:
        """The tariff in force on ``day`` (FieldError on the date field otherwise)."""
        try:
            return self.book.for_date(day)
        except LookupError:
            raise FieldError(
                f"На дату {day:%d.%m.%Y} тарифы не загружены: "
                f"первая редакция действует с {self.book.first_date:%d.%m.%Y}",
                "date",
            ) from None

    def quote(self, req: QuoteRequest) -> Quote:
        """The premium for ``req``; FieldError when the request cannot be priced."""
        tariff = self.tariff_for(req.start_date)
        category = req.category
        if category not in TARIFF_CATEGORIES:
            raise FieldError(f"Неизвестная тарифная категория: {category}", "vehicle.category")
        corridor = tariff.corridors.get(category)
        if corridor is None:
            raise FieldError(
                f"Для категории «{TARIFF_CATEGORIES[category]}» в редакции {tariff.version} нет базовой ставки",
                "vehicle.category",
            )
        legal = req.owner_type is OwnerType.LEGAL_ENTITY
        formula = _formula(req.registration, legal)
        applies = tariff.formulas[formula]

        tb = self._base_rate(req, tariff, category)
        kt = _territory(req, tariff, category) if "KT" in applies else _NOT_APPLIED
        drivers = req.drivers
        if drivers is not None and legal:
            raise FieldError("Для юридического лица договор заключается без ограничения списка водителей", "drivers")
        if drivers is not None:
            ages = _ages(drivers, req.start_date)
            kbm, kbm_driver = _worst_kbm(tariff, drivers)
            kvs, kvs_driver = _worst_kvs(tariff, category, ages) if "KVS" in applies else (_NOT_APPLIED, None)
            ko = tariff.ko_limited
        else:
            kbm, kbm_driver = _kbm_row(tariff, req.owner_kbm_class, "owner_kbm_class"), None
            kvs, kvs_driver = _NOT_APPLIED, None
            ko = tariff.ko_legal_entity if legal else tariff.ko_unlimited
        km = _power(req, tariff, category)
        ks = _season(req, tariff, category, legal) if "KS" in applies else _NOT_APPLIED
        kp = _term(req, tariff) if "KP" in applies else _NOT_APPLIED
        if "KS" not in applies and req.registration is Registration.RU and req.period_months not in (None, 12):
            raise FieldError("Период использования для этого договора не применяется", "period_months")
        kn = tariff.kn if req.violations else _NOT_APPLIED
        kpr = tariff.kpr[category] if req.trailer else _NOT_APPLIED

        rows = (
            ("TB", tb, None),
            ("KT", kt, None),
            ("KBM", kbm, kbm_driver),
            ("KVS", kvs, kvs_driver),
            ("KO", ko, None),
            ("KM", km, None),
            ("KS", ks, None),
            ("KN", kn, None),
            ("KP", kp, None),
            ("KPr", kpr, None),
        )
        multiply = _EXACT.multiply
        product = _ONE
        factors = []
        for code, row, driver in rows:
            applied = code in applies and row is not _NOT_APPLIED
            value = row.value if applied else _ONE
            assert value is not None  # unknown rows are refused where they are looked up
            factors.append(Factor(code, value, applied, row, driver))
            product = multiply(product, value)
        assert tb.value is not None
        kt_value = kt.value if kt is not _NOT_APPLIED and kt.value is not None else _ONE
        cap = multiply(
            multiply(tariff.cap_multiplier_with_kn if req.violations else tariff.cap_multiplier, tb.value),
            kt_value,
        )
        capped = product > cap
        premium = (cap if capped else product).quantize(_KOPECK, rounding=ROUND_HALF_UP)
        return Quote(
            premium=premium,
            uncapped=product,
            cap=cap,
            capped=capped,
            factors=tuple(factors),
            tariff_version=tariff.version,
            tariff_from=tariff.effective_from,
            category=category,
        )

    def _base_rate(self, req: QuoteRequest, tariff: Tariff, category: str) -> Row:
        corridor = tariff.corridors[category]
        if req.base_rate is not None:
            if req.base_rate <= 0 or not corridor.contains(req.base_rate):
                raise FieldError(
                    f"Базовая ставка {req.base_rate} руб. вне коридора {corridor.describe()} ({tariff.version})",
                    "base_rate",
                )
            return Row(req.base_rate, "базовая ставка из запроса", "request: base_rate")
        row = self.base_rates.rate(req.start_date, category, req.region_code)
        if row is None:
            raise FieldError(
                f"Страховщик не установил базовую ставку для категории «{TARIFF_CATEGORIES[category]}» "
                f"на {req.start_date:%d.%m.%Y}",
                "vehicle.category",
            )
        return row


def _formula(registration: Registration, legal: bool) -> Formula:
    if registration is Registration.FOREIGN:
        return Formula.FOREIGN_LEGAL_ENTITY if legal else Formula.FOREIGN
    if registration is Registration.TRANSIT:
        return Formula.TRANSIT_LEGAL_ENTITY if legal else Formula.TRANSIT
    return Formula.LEGAL_ENTITY if legal else Formula.INDIVIDUAL


def _known(row: Row, message: str, field: str) -> Row:
    if row.value is None:
        raise FieldError(message, field)
    return row


def _territory(req: QuoteRequest, tariff: Tariff, category: str) -> Row:
    if req.registration is Registration.FOREIGN:
        unfriendly = tariff.unfriendly
        if req.unfriendly_state:
            if unfriendly is None:
                raise FieldError(
                    f"На {req.start_date:%d.%m.%Y} особый КТ для недружественных государств не действует",
                    "vehicle.unfriendly_state",
                )
            if category in unfriendly.cars_and_motorcycles:
                return unfriendly.kt_cars_and_motorcycles
            return unfriendly.kt_other
        return tariff.foreign_kt
    if req.kt is not None:
        if req.kt <= 0:
            raise FieldError("КТ должен быть положительным числом", "territory.kt")
        return Row(req.kt, "КТ из запроса", "request: territory.kt")
    if req.region_code is None:
        raise FieldError("Укажите регион регистрации собственника", "territory.region_code")
    region = tariff.regions.get(req.region_code)
    if region is None:
        raise FieldError(f"Регион с кодом {req.region_code} не найден в таблице КТ", "territory.region_code")
    if req.locality:
        row = region.localities.get(locality_key(req.locality))
        if row is None:
            row = region.other
    elif region.localities:
        raise FieldError(f"Укажите населённый пункт в регионе «{region.name}»", "territory.locality")
    else:
        row = region.other
    return _known(
        row,
        f"Коэффициент территории для «{row.label}» не установлен в загруженных тарифах ({tariff.version}); "
        "оформите полис в офисе страховщика",
        "territory",
    )


def _ages(drivers: tuple[Driver, ...], start: dt.date) -> list[tuple[int, int]]:
    if not drivers:
        raise FieldError("Добавьте хотя бы одного водителя или выберите «без ограничений»", "drivers")
    if len(drivers) > MAX_DRIVERS:
        raise FieldError(f"В ограниченный список можно включить не более {MAX_DRIVERS} водителей", "drivers")
    ages = []
    for index, driver in enumerate(drivers):
        path = f"drivers[{index}]"
        if driver.birth_date > start:
            raise FieldError("Дата рождения позже даты начала договора", f"{path}.birth_date")
        age = full_years(driver.birth_date, start)
        if age < MIN_DRIVER_AGE:
            raise FieldError(f"Водителю на дату начала договора нет {MIN_DRIVER_AGE} лет", f"{path}.birth_date")
        if driver.licence_date > start:
            raise FieldError("Дата начала стажа позже даты начала договора", f"{path}.licence_date")
        experience = full_years(driver.licence_date, start)
        if experience > age - MIN_DRIVER_AGE:
            raise FieldError(
                f"Стаж {experience} лет больше возможного для возраста {age} лет "
                f"(права выдаются с {MIN_DRIVER_AGE} лет)",
                f"{path}.licence_date",
            )
        ages.append((age, experience))
    return ages


def _kbm_row(tariff: Tariff, kbm_class: str | None, field: str) -> Row:
    if kbm_class is None:
        raise FieldError("Укажите класс КБМ", field)
    row = tariff.kbm.get(kbm_class)
    if row is None:
        raise FieldError(f"Неизвестный класс КБМ «{kbm_class}» (допустимо: {', '.join(tariff.kbm_order)})", field)
    return row


def _worst(rows: list[Row]) -> tuple[Row, int]:
    """The row with the highest coefficient and its driver index (the first one on a tie)."""
    best = 0
    for index in range(1, len(rows)):
        if _value(rows[index]) > _value(rows[best]):
            best = index
    return rows[best], best


def _value(row: Row) -> Decimal:
    assert row.value is not None, "unknown rows are refused where they are looked up"
    return row.value


def _worst_kbm(tariff: Tariff, drivers: tuple[Driver, ...]) -> tuple[Row, int]:
    return _worst([_kbm_row(tariff, d.kbm_class, f"drivers[{i}].kbm_class") for i, d in enumerate(drivers)])


def _worst_kvs(tariff: Tariff, category: str, ages: list[tuple[int, int]]) -> tuple[Row, int]:
    group = tariff.kvs_group(category)
    if group.table is None:
        raise FieldError(
            f"Таблица КВС для категории «{TARIFF_CATEGORIES[category]}» не загружена ({tariff.version}); "
            "выберите договор без ограничения списка водителей или обратитесь в офис",
            "drivers",
        )
    rows = []
    for index, (age, experience) in enumerate(ages):
        row = group.table[_band(group.age_from, age)][_band(group.experience_from, experience)]
        if row is None:
            raise FieldError("Такое сочетание возраста и стажа невозможно", f"drivers[{index}].licence_date")
        rows.append(row)
    return _worst(rows)


def _band(starts: tuple[int, ...], value: int) -> int:
    index = len(starts) - 1
    while starts[index] > value:
        index -= 1
    return index


def _power(req: QuoteRequest, tariff: Tariff, category: str) -> Row:
    group = tariff.km_group(category)
    if req.power_hp is not None and req.power_hp <= 0:
        raise FieldError("Мощность двигателя должна быть больше нуля", "vehicle.power_hp")
    if group is None:
        return _NOT_APPLIED
    if req.power_hp is None:
        raise FieldError("Укажите мощность двигателя (л.с. или кВт)", "vehicle.power_hp")
    for above, up_to, row in group.bands:
        if req.power_hp > above and (up_to is None or req.power_hp <= up_to):
            return _known(
                row,
                f"Коэффициент мощности для «{row.label}» не установлен в загруженных тарифах ({tariff.version}); "
                "оформите полис в офисе страховщика",
                "vehicle.power_hp",
            )
    raise AssertionError("the loader guarantees bands from 0 to infinity")


def _season(req: QuoteRequest, tariff: Tariff, category: str, legal: bool) -> Row:
    months = 12 if req.period_months is None else req.period_months
    if req.period_days is not None:
        raise FieldError(
            "Срок в днях задаётся только для ТС, зарегистрированных за рубежом, или для транзита",
            "period_days",
        )
    if legal and category not in tariff.ks_legal_entity_categories:
        if months != 12:
            raise FieldError(
                "Для юридических лиц период использования менее года допускается только для сезонной техники",
                "period_months",
            )
        return _NOT_APPLIED
    row = tariff.ks_months.get(months)
    if row is None:
        low = min(tariff.ks_months)
        raise FieldError(f"Период использования — от {low} до 12 месяцев", "period_months")
    return row


def _term(req: QuoteRequest, tariff: Tariff) -> Row:
    if req.registration is Registration.TRANSIT:
        days = req.period_days
        if days is None or not 1 <= days <= tariff.kp_transit_max_days:
            raise FieldError(
                f"Для следования к месту регистрации укажите срок в днях, не более {tariff.kp_transit_max_days}",
                "period_days",
            )
        return tariff.kp_transit
    if req.period_days is not None:
        for low, high, row in tariff.kp_foreign_days:
            if low <= req.period_days <= high:
                return row
        first, last = tariff.kp_foreign_days[0][0], tariff.kp_foreign_days[-1][1]
        raise FieldError(f"Срок страхования в днях — от {first} до {last}; дольше укажите в месяцах", "period_days")
    months = 12 if req.period_months is None else req.period_months
    term = tariff.kp_foreign_months.get(months)
    if term is None:
        raise FieldError("Срок страхования — от 1 до 12 месяцев", "period_months")
    return term
