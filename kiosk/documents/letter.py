"""The information letter for an application the kiosk could not turn into a policy on the spot.

Its wording is data (``templates/letter.toml``): the workflow rests on low-confidence facts
(domain reference report, section 1.7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from drivers.printer.layout import QR, Align, Block, Cut, Document, Feed, KeyValue, Text, Title
from kiosk.documents.common import InsurerInfo, bullets, section
from kiosk.documents.text import date_ru, load_template, local
from kiosk.money import rub


@dataclass(frozen=True, slots=True)
class OfficeInfo:
    """The insurer's office the customer chose."""

    name: str
    address: str
    hours: str = ""  # "пн-пт 9:00-19:00"
    phone: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.address.strip():
            raise ValueError("an office needs a name and an address")


@dataclass(frozen=True, slots=True)
class LetterPrintData:
    """An application as the letter shows it. ``created_at`` is aware (printed on Moscow time)."""

    application_number: str
    created_at: datetime
    insurer: InsurerInfo
    office: OfficeInfo
    policyholder: str
    vehicle: str  # make, model and plate in one line
    quoted_premium: Decimal

    def __post_init__(self) -> None:
        if not self.application_number.strip() or not self.application_number.isascii():
            raise ValueError("the application number must be non-empty ASCII (it goes into a QR code)")
        local(self.created_at)
        if not isinstance(self.quoted_premium, Decimal) or self.quoted_premium < 0:
            raise ValueError("the quoted premium must be a non-negative Decimal")


def visit_deadline(created_at: datetime, days: int) -> datetime:
    """The last day to visit the office: ``days`` calendar days after the application (Moscow time)."""
    return local(created_at) + timedelta(days=days)


def letter_document(data: LetterPrintData, template: Mapping[str, Any] | None = None) -> Document:
    """The information letter as a layout, with a QR code carrying the application number."""
    t = template or load_template("letter")
    days = int(t["visit_within_days"])
    created = local(data.created_at)
    office = data.office
    blocks: list[Block] = [
        Title(t["title"]),
        Text(t["subtitle"], align=Align.CENTER),
        Text(data.insurer.name, align=Align.CENTER),
        *section(t["application"] + " " + data.application_number),
        KeyValue(t["created"], f"{date_ru(created.date())} {created:%H:%M}"),
        KeyValue(t["status"], t["status_value"]),
        KeyValue(t["policyholder"], data.policyholder),
        KeyValue(t["vehicle"], data.vehicle),
        KeyValue(t["premium"], rub(data.quoted_premium), bold=True),
        Text(t["premium_note"], small=True),
        *section(t["office_heading"]),
        Text(office.name, bold=True),
        Text(office.address),
        *([Text(office.hours)] if office.hours else []),
        *([Text(office.phone)] if office.phone else []),
        Text(
            t["visit"].format(
                days=days,
                date=date_ru(created.date()),
                deadline=date_ru(visit_deadline(created, days).date()),
            ),
            bold=True,
        ),
        *section(t["bring_heading"]),
        *bullets(t["bring"]),
        Feed(),
        Text(t["not_insured"], bold=True),
        QR(data.application_number, caption=t["qr_caption"].format(number=data.application_number)),
        Text(data.insurer.phone, align=Align.CENTER, small=True),
        Cut(),
    ]
    return Document.of("letter", blocks)
