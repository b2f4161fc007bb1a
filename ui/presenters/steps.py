"""The data steps of a sale — vehicle, owner (and policyholder), drivers, period — as forms.

Each step's fields are ``FieldSpec``s with the shared validators of ``kiosk.validation``; each step
turns its form into the ``kiosk.sale.model`` objects the sale service takes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from kiosk.sale.model import DriverEntry, Person, VehicleEntry
from kiosk.tariffs import HP_PER_KW, Tariff
from kiosk.validation import (
    FieldError,
    full_years,
    normalize_body_number,
    normalize_email,
    normalize_licence,
    normalize_name,
    normalize_passport,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    parse_decimal,
    parse_ru_date,
    partial_body_number,
    partial_decimal,
    partial_email,
    partial_licence,
    partial_name,
    partial_passport,
    partial_phone,
    partial_plate,
    partial_ru_date,
    partial_vin,
)
from ui.presenters.form import Choice, FieldSpec, Form

__all__ = [
    "MAX_DRIVERS",
    "OTHER_LOCALITY",
    "DriversStep",
    "OwnerStep",
    "PeriodStep",
    "VehicleStep",
    "region_choices",
]

#: The largest limited list a kiosk contract takes (as the tariff engine enforces).
MAX_DRIVERS = 5
#: Stored as the locality when the customer's settlement is not listed: the region's "other" КТ row.
OTHER_LOCALITY = "прочие населённые пункты"

CATEGORIES = (
    Choice("B", "B — легковой автомобиль"),
    Choice("A", "A — мотоцикл"),
    Choice("C", "C — грузовой автомобиль"),
    Choice("D", "D — автобус"),
)
PURPOSES = (
    Choice("personal", "личная"),
    Choice("taxi", "такси"),
    Choice("training", "учебная езда"),
    Choice("rental", "прокат / аренда"),
    Choice("other", "прочее"),
)
DOCUMENTS = (Choice("СТС", "СТС"), Choice("ПТС", "ПТС"), Choice("ЭПТС", "ЭПТС"))
POWER_UNITS = (Choice("hp", "л. с."), Choice("kw", "кВт"))


def _date(what: str) -> tuple[Callable[[str], str], Callable[[str], dt.date]]:
    return (lambda text: partial_ru_date(text, "", what)), (lambda text: parse_ru_date(text, "", what))


def _name(what: str, optional: bool = False) -> dict[str, Any]:
    return {
        "pad": "ru",
        "partial": lambda text: partial_name(text, "", what),
        "full": lambda text: normalize_name(text, "", what),
        "optional": optional,
    }


def _int_in(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        number = parse_decimal(text, "", what)
        if number != number.to_integral_value() or not low <= number <= high:
            raise FieldError(f"{what.capitalize()}: от {low} до {high}", "")
        return int(number)

    return parse


def _positive(what: str) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        number = parse_decimal(text, "", what)
        if number <= 0:
            raise FieldError(f"{what.capitalize()}: больше нуля", "")
        return number

    return parse


class VehicleStep:
    """Category, plate, VIN or body number, make and model, year, power, purpose, registration document."""

    def __init__(self, today: Callable[[], dt.date]) -> None:
        year = today().year
        self.form = Form(
            [
                FieldSpec("vehicle.category", "Категория", choices=CATEGORIES),
                FieldSpec(
                    "vehicle.plate", "Госномер", "plate", partial_plate, normalize_plate, True, "А123ВС77", max_length=9
                ),
                FieldSpec("vehicle.vin", "VIN", "vin", partial_vin, normalize_vin, True, "17 знаков", max_length=17),
                FieldSpec(
                    "vehicle.body_number",
                    "Номер кузова (если нет VIN)",
                    "latin",
                    partial_body_number,
                    normalize_body_number,
                    True,
                    max_length=20,
                ),
                FieldSpec("vehicle.make", "Марка", "latin", lambda t: t.upper(), _text("марку"), hint="LADA"),
                FieldSpec("vehicle.model", "Модель", "latin", lambda t: t.upper(), _text("модель"), hint="VESTA"),
                FieldSpec(
                    "vehicle.year",
                    "Год выпуска",
                    "digits",
                    lambda t: partial_decimal(t, "", "год", digits=4),
                    _int_in(1950, year, "год выпуска"),
                    hint=str(year - 5),
                    max_length=4,
                ),
                FieldSpec(
                    "vehicle.power",
                    "Мощность",
                    "digits",
                    lambda t: partial_decimal(t, "", "мощность", digits=4, decimals=1),
                    _positive("мощность"),
                    hint="110",
                    max_length=6,
                ),
                FieldSpec("vehicle.power_unit", "Единица мощности", choices=POWER_UNITS),
                FieldSpec("vehicle.purpose", "Цель использования", choices=PURPOSES),
                FieldSpec("vehicle.document_type", "Документ", choices=DOCUMENTS),
                FieldSpec(
                    "vehicle.document_number",
                    "Серия и номер документа",
                    "ru",
                    lambda t: " ".join(t.upper().split()) + (" " if t.endswith(" ") else ""),
                    _document_number,
                    hint="77 00 123456",
                    max_length=20,
                ),
                FieldSpec(
                    "vehicle.max_mass_kg",
                    "Разрешённая макс. масса, кг (грузовик)",
                    "digits",
                    lambda t: partial_decimal(t, "", "масса", digits=5),
                    _int_in(1, 99999, "масса"),
                    True,
                ),
                FieldSpec(
                    "vehicle.seats",
                    "Пассажирских мест (автобус)",
                    "digits",
                    lambda t: partial_decimal(t, "", "число мест", digits=3),
                    _int_in(1, 999, "число мест"),
                    True,
                ),
            ]
        )
        self.defaults()

    def defaults(self) -> None:
        """What most customers have: a car for personal use, power in hp, an СТС."""
        for name, value in (
            ("vehicle.category", "B"),
            ("vehicle.power_unit", "hp"),
            ("vehicle.purpose", "personal"),
            ("vehicle.document_type", "СТС"),
        ):
            self.form.set(name, value)
        self.form.active = "vehicle.plate"

    def entry(self) -> VehicleEntry:
        """The vehicle as the sale takes it (FieldError with the field's name)."""
        v = self.form.values()
        if not v["vehicle.vin"] and not v["vehicle.body_number"]:
            self.form["vehicle.vin"].error = "Укажите VIN или номер кузова"
            self.form.active = "vehicle.vin"
            raise FieldError("Укажите VIN или номер кузова", "vehicle.vin")
        category = v["vehicle.category"]
        needs = {"C": "vehicle.max_mass_kg", "D": "vehicle.seats"}.get(category)
        if needs and v[needs] is None:
            self.form[needs].error = "Заполните поле"
            self.form.active = needs
            raise FieldError("Заполните поле", needs)
        power: Decimal = v["vehicle.power"]
        if v["vehicle.power_unit"] == "kw":
            power = (power * HP_PER_KW).quantize(Decimal("0.01"))
        return VehicleEntry(
            category=category,
            make=v["vehicle.make"],
            model=v["vehicle.model"],
            year=v["vehicle.year"],
            power_hp=power,
            document_type=v["vehicle.document_type"],
            document_number=v["vehicle.document_number"],
            purpose=v["vehicle.purpose"],
            plate=v["vehicle.plate"],
            vin=v["vehicle.vin"],
            body_number=v["vehicle.body_number"],
            max_mass_kg=v["vehicle.max_mass_kg"] if category == "C" else None,
            seats=v["vehicle.seats"] if category == "D" else None,
        )

    def wipe(self) -> None:
        """Forget the vehicle."""
        self.form.wipe()
        self.defaults()


def _text(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = " ".join(text.split())
        if not value:
            raise FieldError(f"Укажите {what}", "")
        return value

    return parse


def _document_number(text: str) -> str:
    value = " ".join(text.upper().split())
    if not 6 <= len(value.replace(" ", "")) <= 16 or not value.replace(" ", "").isalnum():
        raise FieldError("Серия и номер: от 6 до 16 букв и цифр", "")
    return value


def region_choices(tariff: Tariff) -> tuple[Choice, ...]:
    """Every region of the КТ table, by name, with its plate code."""
    regions = sorted(tariff.regions.values(), key=lambda r: r.name)
    return tuple(Choice(r.code, f"{r.name} ({r.code})") for r in regions)


def locality_choices(tariff: Tariff, region_code: str) -> tuple[Choice, ...]:
    """The listed localities of a region, then "other settlement" (the region's own КТ row)."""
    region = tariff.regions.get(region_code)
    if region is None:
        return ()
    names = sorted(region.locality_names.values())
    if not names:
        return (Choice(OTHER_LOCALITY, "Любой населённый пункт региона"),)
    return (*(Choice(name, name) for name in names), Choice(OTHER_LOCALITY, "Другой населённый пункт"))


_NAME_PARTS = ("last_name", "first_name", "middle_name", "birth_date")
_PERSON = (*_NAME_PARTS, "passport")


def _parts(values: dict[str, Any], prefix: str, names: Sequence[str]) -> dict[str, Any]:
    """``{"last_name": values["owner.last_name"], …}``: a form's values as a model's keyword arguments."""
    return {name: values[f"{prefix}.{name}"] for name in names}


def _person_specs(prefix: str, optional_contacts: bool) -> list[FieldSpec]:
    partial_birth, birth = _date("дата рождения")
    specs = [
        FieldSpec(f"{prefix}.last_name", "Фамилия", **_name("фамилию")),
        FieldSpec(f"{prefix}.first_name", "Имя", **_name("имя")),
        FieldSpec(f"{prefix}.middle_name", "Отчество (если есть)", **_name("отчество", optional=True)),
        FieldSpec(f"{prefix}.birth_date", "Дата рождения", "digits", partial_birth, birth, hint="ДД.ММ.ГГГГ"),
        FieldSpec(f"{prefix}.passport", "Паспорт: серия и номер", "digits", partial_passport, normalize_passport),
    ]
    if not optional_contacts:
        specs += [
            FieldSpec(
                f"{prefix}.address",
                "Адрес регистрации",
                "ru",
                lambda t: t[:1].upper() + t[1:],
                _text("адрес регистрации"),
                hint="ул. Ленина, д. 1, кв. 2",
                max_length=120,
            ),
        ]
    return specs


class OwnerStep:
    """The owner (and the policyholder if someone else concludes the contract), territory, contacts."""

    def __init__(self, tariff_for: Callable[[], Tariff]) -> None:
        self._tariff_for = tariff_for
        tariff = tariff_for()
        self.regions = region_choices(tariff)
        owner = _person_specs("owner", False)
        owner += [
            FieldSpec("owner.region", "Регион регистрации", choices=self.regions),
            FieldSpec(
                "owner.locality", "Населённый пункт", choices=(Choice(OTHER_LOCALITY, "Другой населённый пункт"),)
            ),
            FieldSpec("owner.phone", "Телефон", "digits", partial_phone, normalize_phone, hint="+7 916 123-45-67"),
            FieldSpec("owner.email", "Эл. почта (необязательно)", "email", partial_email, normalize_email, True),
        ]
        holder = _person_specs("holder", True)
        self.form = Form([*owner, *holder])
        self.holder_is_owner = True

    @property
    def visible(self) -> list[str]:
        """Fields on screen: the policyholder's only when it is another person."""
        return [n for n in self.form.names if self.holder_is_owner is False or not n.startswith("holder.")]

    def pick_region(self, code: str) -> None:
        """A region was picked: offer its localities (a city with its own КТ, or "other")."""
        self.form.set("owner.region", code)
        choices = locality_choices(self._tariff_for(), code)
        spec = replace(self.form["owner.locality"].spec, choices=choices)
        self.form.fields["owner.locality"] = type(self.form["owner.locality"])(spec)
        self.form.specs = [spec if s.name == spec.name else s for s in self.form.specs]
        if len(choices) == 1:
            self.form.set("owner.locality", choices[0].value)

    def set_holder_is_owner(self, same: bool) -> None:
        """Toggle "the policyholder is the owner"."""
        self.holder_is_owner = same
        if same:
            for name in self.form.names:
                if name.startswith("holder."):
                    self.form.clear(name)
            if self.form.active.startswith("holder."):
                self.form.active = "owner.last_name"

    def people(self) -> tuple[Person, Person | None]:
        """(owner, policyholder or None when the owner concludes the contract)."""
        v = self.form.values(self.visible)
        contacts = _parts(v, "owner", ("phone", "email"))
        owner = Person(
            **_parts(v, "owner", _PERSON),
            address=v["owner.address"],
            region_code=v["owner.region"],
            locality=v["owner.locality"],
            **contacts,
        )
        if self.holder_is_owner:
            return owner, None
        return owner, Person(**_parts(v, "holder", _PERSON), **contacts)

    def wipe(self) -> None:
        """Forget the owner and the policyholder."""
        self.form.wipe()
        self.holder_is_owner = True


def _driver_form() -> Form:
    partial_birth, birth = _date("дата рождения")
    partial_since, since = _date("дата начала стажа")
    return Form(
        [
            FieldSpec("driver.last_name", "Фамилия", **_name("фамилию")),
            FieldSpec("driver.first_name", "Имя", **_name("имя")),
            FieldSpec("driver.middle_name", "Отчество (если есть)", **_name("отчество", optional=True)),
            FieldSpec("driver.birth_date", "Дата рождения", "digits", partial_birth, birth, hint="ДД.ММ.ГГГГ"),
            FieldSpec(
                "driver.licence",
                "Водительское удостоверение",
                "ru",
                partial_licence,
                normalize_licence,
                hint="77 01 123456",
            ),
            FieldSpec("driver.licence_date", "Стаж с (дата первого удостоверения)", "digits", partial_since, since),
        ]
    )


class DriversStep:
    """Up to five named drivers, or an unlimited list ("без ограничений")."""

    def __init__(self) -> None:
        self.unlimited = False
        self.drivers: list[Form] = [_driver_form()]
        self.current = 0

    @property
    def form(self) -> Form:
        """The driver on screen."""
        return self.drivers[self.current]

    @property
    def can_add(self) -> bool:
        """Another driver fits on the list."""
        return not self.unlimited and len(self.drivers) < MAX_DRIVERS

    def add(self) -> None:
        """Add an empty driver and show it."""
        if not self.can_add:
            raise FieldError(f"В списке не больше {MAX_DRIVERS} водителей", "drivers")
        self.drivers.append(_driver_form())
        self.current = len(self.drivers) - 1

    def remove(self) -> None:
        """Remove the driver on screen (one always stays)."""
        if len(self.drivers) > 1:
            del self.drivers[self.current]
            self.current = min(self.current, len(self.drivers) - 1)
        else:
            self.drivers[0].wipe()

    def show(self, index: int) -> None:
        """Show another driver."""
        if not 0 <= index < len(self.drivers):
            raise IndexError(index)
        self.current = index

    def copy_owner(self, owner: Form) -> None:
        """Fill the driver on screen from the owner's name and birth date."""
        for part in ("last_name", "first_name", "middle_name", "birth_date"):
            self.form.set(f"driver.{part}", owner[f"owner.{part}"].text)
        self.form.active = "driver.licence"

    def entries(self, start: dt.date | None) -> tuple[DriverEntry, ...] | None:
        """The list for the sale (None for unlimited); FieldError points at the driver on screen."""
        if self.unlimited:
            return None
        out = []
        for index, form in enumerate(self.drivers):
            try:
                entry = DriverEntry(**_parts(form.values(), "driver", (*_NAME_PARTS, "licence", "licence_date")))
                _check_driver(form, entry, start)
            except FieldError as exc:
                self.current = index
                raise FieldError(exc.message, f"drivers[{index}].{exc.field.removeprefix('driver.')}") from None
            out.append(entry)
        return tuple(out)

    def wipe(self) -> None:
        """Forget every driver."""
        self.unlimited = False
        self.drivers = [_driver_form()]
        self.current = 0


def _check_driver(form: Form, entry: DriverEntry, start: dt.date | None) -> None:
    on = start or dt.date.today()
    if full_years(entry.birth_date, on) < 18:
        form["driver.birth_date"].error = "Водителю должно быть не меньше 18 лет"
        form.active = "driver.birth_date"
        raise FieldError(form["driver.birth_date"].error, "driver.birth_date")
    if entry.licence_date <= entry.birth_date or entry.licence_date > on:
        form["driver.licence_date"].error = "Дата начала стажа: после рождения и не позже начала договора"
        form.active = "driver.licence_date"
        raise FieldError(form["driver.licence_date"].error, "driver.licence_date")


class PeriodStep:
    """When cover starts (no earlier than the insurer's rule allows) and the period of use."""

    def __init__(self, earliest: Callable[[], dt.date], months: Sequence[int], latest_days: int = 60) -> None:
        self._earliest = earliest
        # How far ahead a contract may start is the insurer's rule (60 days is common practice, not law
        # we could confirm): a parameter, not a constant buried here.
        self.latest_days = latest_days
        partial_start, start = _date("дата начала")
        choices = tuple(Choice(str(m), _months(m)) for m in sorted(set(months), reverse=True))
        self.form = Form(
            [
                FieldSpec("period.start_date", "Дата начала действия полиса", "digits", partial_start, start),
                FieldSpec("period.months", "Период использования автомобиля", choices=choices),
            ]
        )
        self.defaults()

    @property
    def earliest(self) -> dt.date:
        """The earliest start the sale rule allows (today + ``earliest_start_days``)."""
        return self._earliest()

    def defaults(self) -> None:
        """The earliest start and a whole year of use."""
        self.form.set("period.start_date", f"{self.earliest:%d.%m.%Y}")
        self.form.set("period.months", "12")
        self.form.active = "period.start_date"

    def values(self) -> tuple[dt.date, int]:
        """(start date, months of use); FieldError when the date is earlier than allowed."""
        v = self.form.values()
        start: dt.date = v["period.start_date"]
        if start < self.earliest:
            message = f"Дата начала — не раньше {self.earliest:%d.%m.%Y}"
            self.form["period.start_date"].error = message
            raise FieldError(message, "period.start_date")
        if start > self.earliest + dt.timedelta(days=self.latest_days):
            message = f"Дата начала — не позже {self.earliest + dt.timedelta(days=self.latest_days):%d.%m.%Y}"
            self.form["period.start_date"].error = message
            raise FieldError(message, "period.start_date")
        return start, int(v["period.months"])

    def wipe(self) -> None:
        """Back to the defaults."""
        self.form.wipe()
        self.defaults()


def _months(m: int) -> str:
    if m == 12:
        return "весь год (12 месяцев)"
    word = "месяца" if m in (2, 3, 4) else "месяцев"
    return f"{m} {word}"
