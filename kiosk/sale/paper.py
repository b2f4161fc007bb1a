"""What a sale prints: its data mapped onto the document builders of ``kiosk.documents``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from drivers.printer.layout import Document
from kiosk.documents.common import InsurerInfo
from kiosk.documents.letter import LetterPrintData, OfficeInfo, letter_document
from kiosk.documents.memo import MemoPrintData, memo_document
from kiosk.documents.policy import DriverPrint, PolicyPrintData, VehiclePrint, policy_document
from kiosk.money import ru_number, rub
from kiosk.sale.model import SaleInput
from kiosk.tariffs import FACTOR_CODES
from kiosk.tariffs.contract import PURPOSES

__all__ = ["Paper", "policy_period"]

_FACTOR_LABELS = {
    "TB": "ТБ",
    "KT": "КТ",
    "KBM": "КБМ",
    "KVS": "КВС",
    "KO": "КО",
    "KM": "КМ",
    "KS": "КС",
    "KN": "КН",
    "KP": "КП",
    "KPr": "КПр",
}


def policy_period(start: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Cover from 00:00 of the start day to 24:00 of the day before the anniversary (kiosk time)."""
    begin = dt.datetime.combine(start, dt.time(0, 0), tzinfo=zone)
    try:
        anniversary = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        anniversary = dt.date(start.year + 1, 3, 1)
    return begin, dt.datetime.combine(anniversary, dt.time(0, 0), tzinfo=zone)


def _usage_periods(start: dt.date, months: int) -> tuple[tuple[dt.date, dt.date], ...]:
    """A period of use shorter than the year starts with the contract (the customer may not pick others here)."""
    if months >= 12:
        return ()
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    day = min(start.day, 28)
    return ((start, dt.date(year, month, day) - dt.timedelta(days=1)),)


@dataclass(frozen=True)
class Paper:
    """Builds the documents of a sale for the configured insurer."""

    insurer: InsurerInfo
    check_url_base: str
    zone: ZoneInfo

    def premium_lines(
        self, coefficients: dict[str, str], details: list[dict[str, object]]
    ) -> tuple[tuple[str, str], ...]:
        """The calculation line by line: each applied coefficient with what it was taken for."""
        applied = {str(d["code"]): d for d in details if d.get("applied")}
        lines = []
        for code in FACTOR_CODES:
            if code not in applied:
                continue
            value = Decimal(coefficients[code])
            lines.append((_FACTOR_LABELS[code], rub(value) if code == "TB" else ru_number(value)))
        return tuple(lines)

    def policy(
        self,
        *,
        data: SaleInput,
        series: str,
        number: str,
        concluded_at: dt.datetime,
        premium: Decimal,
        quote: dict[str, object],
    ) -> Document:
        """The policy copy with the check QR."""
        start, end = policy_period(data.start_date, self.zone)
        vehicle = data.vehicle
        coefficients = quote["coefficients"]
        details = quote["details"]
        assert isinstance(coefficients, dict) and isinstance(details, list)
        print_data = PolicyPrintData(
            series=series,
            number=number,
            insurer=self.insurer,
            concluded_at=concluded_at,
            period_start=start,
            period_end=end,
            policyholder=f"{data.holder.full_name.upper()}, {data.holder.birth_date:%d.%m.%Y} г.р.",
            owner=data.owner.full_name.upper(),
            vehicle=VehiclePrint(
                make_model=f"{vehicle.make} {vehicle.model}".upper(),
                category=vehicle.category,
                registration_document=f"{vehicle.document_type} {vehicle.document_number}",
                power_hp=vehicle.power_hp,
                purpose=PURPOSES.get(vehicle.purpose, vehicle.purpose),
                vin=vehicle.vin,
                body_number=vehicle.body_number,
                plate=vehicle.plate,
                trailer=vehicle.trailer,
            ),
            premium=premium,
            premium_lines=self.premium_lines(coefficients, details),
            drivers=tuple(DriverPrint(d.full_name.upper(), d.licence, d.kbm_class or "") for d in (data.drivers or ())),
            unlimited_drivers=data.drivers is None,
            usage_periods=_usage_periods(data.start_date, data.period_months),
        )
        return policy_document(print_data, self.check_url_base)

    def letter(
        self, *, data: SaleInput, number: str, created_at: dt.datetime, office: OfficeInfo, premium: Decimal
    ) -> Document:
        """The information letter for an application."""
        vehicle = data.vehicle
        plate = f", {vehicle.plate}" if vehicle.plate else ""
        return letter_document(
            LetterPrintData(
                application_number=number,
                created_at=created_at,
                insurer=self.insurer,
                office=office,
                policyholder=data.holder.full_name.upper(),
                vehicle=f"{vehicle.make} {vehicle.model}{plate}".upper(),
                quoted_premium=premium,
            )
        )

    def memo(self, policy: str | None) -> Document:
        """The consumer memo (what to do after an accident)."""
        return memo_document(MemoPrintData(self.insurer, policy))
