"""The printed copy of an electronic OSAGO policy (domain reference report, section 1.6)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from drivers.printer.layout import (
    QR,
    Align,
    Block,
    Column,
    Cut,
    Document,
    KeyValue,
    Table,
    Text,
    Title,
)
from kiosk.documents.common import InsurerInfo, section
from kiosk.documents.text import date_ru, end_moment_ru, load_template, local, moment_ru
from kiosk.money import rub

SERIES = re.compile(r"^[А-ЯЁ]{3}$")
NUMBER = re.compile(r"^\d{10}$")


@dataclass(frozen=True, slots=True)
class VehiclePrint:
    """The insured vehicle as the policy names it (at least one of VIN, body or chassis number)."""

    make_model: str
    category: str  # A, B, C, D, E (and subcategories)
    registration_document: str  # type, series and number: "СТС 77 00 123456"
    power_hp: Decimal
    purpose: str  # "личная", "такси", ...
    vin: str | None = None
    body_number: str | None = None
    chassis_number: str | None = None
    plate: str | None = None  # mandatory when there is an СТС; the kiosk's validation decides
    trailer: bool = False

    def __post_init__(self) -> None:
        if not (self.vin or self.body_number or self.chassis_number):
            raise ValueError("a vehicle needs a VIN, a body number or a chassis number")
        if not isinstance(self.power_hp, Decimal) or self.power_hp <= 0:
            raise ValueError("engine power must be a positive Decimal (hp)")


@dataclass(frozen=True, slots=True)
class DriverPrint:
    """One person admitted to drive, with the KBM class the premium was calculated with."""

    full_name: str
    licence: str  # series and number of the driving licence
    kbm_class: str  # "М", "0" ... "13" (6007-У); the tariff module owns the table

    def __post_init__(self) -> None:
        if not self.full_name.strip() or not self.licence.strip() or not self.kbm_class.strip():
            raise ValueError("a driver needs a name, a licence and a KBM class")


@dataclass(frozen=True, slots=True)
class PolicyPrintData:
    """Everything printed on an e-policy copy. Times are aware datetimes (printed on Moscow time).

    ``period_end`` is the instant cover ends: midnight of 01.08.2027 prints as
    "24 ч 00 мин 31.07.2027". ``premium_lines`` are the calculation as (label, value) pairs in
    print order, e.g. ("ТБ", "6 896,00 руб."), ("КТ", "1,80"); the quote module formats them.
    """

    series: str
    number: str
    insurer: InsurerInfo
    concluded_at: datetime
    period_start: datetime
    period_end: datetime
    policyholder: str
    owner: str
    vehicle: VehiclePrint
    premium: Decimal
    premium_lines: tuple[tuple[str, str], ...]
    drivers: tuple[DriverPrint, ...] = ()
    unlimited_drivers: bool = False
    usage_periods: tuple[tuple[date, date], ...] = ()  # empty: the whole term
    territory: str = "Российская Федерация"
    previous_policy: str | None = None  # "ХХХ 0123456789" when renewing
    special_notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not SERIES.match(self.series):
            raise ValueError(f"policy series must be 3 Cyrillic capitals, not {self.series!r}")
        if not NUMBER.match(self.number):
            raise ValueError(f"policy number must be 10 digits, not {self.number!r}")
        for name in ("concluded_at", "period_start", "period_end"):
            local(getattr(self, name))  # refuses naive datetimes
        if self.period_end <= self.period_start:
            raise ValueError("the policy period must end after it starts")
        if not isinstance(self.premium, Decimal) or self.premium < 0:
            raise ValueError("the premium must be a non-negative Decimal")
        if self.unlimited_drivers == bool(self.drivers):
            raise ValueError("list the drivers, or mark the policy unlimited - not both, not neither")
        if not self.premium_lines:
            raise ValueError("the premium calculation must be printed line by line")

    @property
    def full_number(self) -> str:
        """Series and number as printed: ``ХХХ 0123456789``."""
        return f"{self.series} {self.number}"


def check_url(base: str, series: str, number: str) -> str:
    """The public check URL a QR code carries: ``<base>?number=<series><number>`` (percent-encoded)."""
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"the check URL base must be an http(s) URL, not {base!r}")
    return f"{base}?number={quote(series + number, safe='')}"


def _insurer_details(insurer: InsurerInfo) -> str:
    licence = f"Лицензия Банка России {insurer.licence}" if insurer.licence else ""
    return ", ".join(part for part in (licence, insurer.phone, insurer.website) if part)


def policy_document(data: PolicyPrintData, check_url_base: str, template: Mapping[str, Any] | None = None) -> Document:
    """The policy copy as a layout: every field of section 1.6 that applies to an e-policy."""
    t = template or load_template("policy")
    v, d = t["vehicle"], t["drivers"]
    url = check_url(check_url_base, data.series, data.number)
    vehicle = data.vehicle
    blocks: list[Block] = [
        Title(t["title"]),
        Text(t["subtitle"], align=Align.CENTER),
        Title(t["number_line"].format(series=data.series, number=data.number), large=False),
        Text(data.insurer.name, align=Align.CENTER),
        Text(_insurer_details(data.insurer), align=Align.CENTER, small=True),
        *section(t["period_heading"]),
        Text(t["period"].format(start=moment_ru(data.period_start), end=end_moment_ru(data.period_end))),
        Text(t["usage_heading"] + ": " + ("" if data.usage_periods else t["usage_whole_term"])),
        *(Text(f"с {date_ru(a)} по {date_ru(b)}") for a, b in data.usage_periods),
        *section(t["policyholder"]),
        Text(data.policyholder),
        KeyValue(t["owner"], data.owner),
        *section(t["vehicle_heading"]),
        KeyValue(v["make_model"], vehicle.make_model),
        KeyValue(v["category"], vehicle.category),
        *(
            KeyValue(v[key], value)
            for key, value in (
                ("vin", vehicle.vin),
                ("body_number", vehicle.body_number),
                ("chassis_number", vehicle.chassis_number),
                ("plate", vehicle.plate),
            )
            if value
        ),
        KeyValue(v["document"], vehicle.registration_document),
        KeyValue(v["power"], f"{vehicle.power_hp:f}".replace(".", ",")),
        KeyValue(v["purpose"], vehicle.purpose),
        KeyValue(v["trailer"], v["yes"] if vehicle.trailer else v["no"]),
        *section(t["drivers_heading"]),
    ]
    if data.unlimited_drivers:
        blocks.append(Text(t["drivers_unlimited"]))
    else:
        columns = (
            Column(d["number"], min_width=2),
            Column(d["name"], weight=3),
            Column(d["licence"], weight=2),
            Column(d["kbm_class"], align=Align.RIGHT),
        )
        rows = tuple((str(i), p.full_name, p.licence, p.kbm_class) for i, p in enumerate(data.drivers, start=1))
        blocks.append(Table(columns, rows))
    blocks += [
        *section(t["sum_insured_heading"]),
        Text(t["sum_insured"]),
        *section(t["territory_heading"]),
        Text(data.territory),
        *section(t["premium_heading"]),
        *(KeyValue(label, value) for label, value in data.premium_lines),
        KeyValue(t["premium_total"], rub(data.premium), bold=True),
        *section(t["notes_heading"]),
        *([KeyValue(t["previous_policy"], data.previous_policy)] if data.previous_policy else []),
        *(Text(note) for note in data.special_notes),
        KeyValue(t["concluded"], date_ru(local(data.concluded_at).date())),
        Text(t["issued_documents"], small=True),
        QR(url, caption=t["qr_caption"]),
        Text(t["check_hint"], small=True, align=Align.CENTER),
        Cut(),
    ]
    return Document.of("policy", blocks)
