"""Sample data for every document: ``osago-kiosk printer print --sample``, tests and the benchmark.

Invented people and numbers; the premium lines follow the shape the quote module returns.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from drivers.printer.layout import Document
from drivers.printer.profiles import PrinterProfile
from drivers.printer.status import StatusReport
from kiosk.documents.common import InsurerInfo
from kiosk.documents.letter import LetterPrintData, OfficeInfo, letter_document
from kiosk.documents.memo import MemoPrintData, memo_document
from kiosk.documents.policy import DriverPrint, PolicyPrintData, VehiclePrint, policy_document
from kiosk.documents.slip import slip_document
from kiosk.documents.testpage import TestPageData, testpage_document
from kiosk.documents.text import KIOSK_TZ

SAMPLE_CHECK_URL_BASE = "https://osago.example.ru/check"
SAMPLE_KIOSK_ID = "KIOSK-0001"

INSURER = InsurerInfo(
    name='АО "Страховая компания Пример"',
    phone="8 800 100-00-00",
    website="example.ru",
    licence="ОС № 0000-03",
)


def sample_policy() -> PolicyPrintData:
    """A one-year e-policy with two named drivers."""
    return PolicyPrintData(
        series="ХХХ",
        number="0123456789",
        insurer=INSURER,
        concluded_at=datetime(2026, 7, 28, 14, 5, tzinfo=KIOSK_TZ),
        period_start=datetime(2026, 8, 1, tzinfo=KIOSK_TZ),
        period_end=datetime(2027, 8, 1, tzinfo=KIOSK_TZ),
        policyholder="ИВАНОВ ИВАН ИВАНОВИЧ, 01.02.1985 г.р.",
        owner="ИВАНОВ ИВАН ИВАНОВИЧ",
        vehicle=VehiclePrint(
            make_model="LADA VESTA",
            category="B",
            vin="XTAGFL110KY123456",
            plate="А123ВС 777",
            registration_document="СТС 77 00 123456",
            power_hp=Decimal("106"),
            purpose="личная",
        ),
        drivers=(
            DriverPrint("ИВАНОВ ИВАН ИВАНОВИЧ", "77 12 345678", "5"),
            DriverPrint("ИВАНОВА МАРИЯ СЕРГЕЕВНА", "77 15 987654", "3"),
        ),
        premium=Decimal("7535.00"),
        premium_lines=(
            ("ТБ", "5 600,00 руб."),
            ("КТ (г. Москва)", "1,80"),
            ("КБМ", "0,83"),
            ("КВС", "0,96"),
            ("КО", "1,00"),
            ("КМ (106 л.с.)", "1,20"),
            ("КС (12 мес.)", "1,00"),
            ("КН", "1,00"),
            ("КП", "1,00"),
        ),
        territory="Российская Федерация; преимущественно г. Москва",
    )


def sample_letter() -> LetterPrintData:
    """An application taken while the insurer's system was unreachable."""
    return LetterPrintData(
        application_number="A-2026-000123",
        created_at=datetime(2026, 7, 28, 14, 5, tzinfo=KIOSK_TZ),
        insurer=INSURER,
        office=OfficeInfo(
            name="Офис продаж на Тверской",
            address="г. Москва, ул. Тверская, д. 1, офис 10",
            hours="пн-пт 9:00-19:00, сб 10:00-16:00",
            phone="+7 495 000-00-00",
        ),
        policyholder="ИВАНОВ ИВАН ИВАНОВИЧ",
        vehicle="LADA VESTA, А123ВС 777",
        quoted_premium=Decimal("7535.00"),
    )


def sample_memo() -> MemoPrintData:
    """The memo that goes with the sample policy."""
    return MemoPrintData(insurer=INSURER, policy="ХХХ 0123456789")


def sample_slip_lines() -> list[str]:
    """A card terminal's customer receipt, 40 columns as terminals send it."""
    return [
        "           ПРИМЕР БАНК",
        "ОПЛАТА                     28.07.26 14:06",
        "Терминал: 10000001   Мерчант: 123456789",
        "Карта: ************1234          MIR",
        "Сумма:                    7535.00 RUB",
        "Код авторизации: 123456",
        "RRN: 620912345678",
        "ОДОБРЕНО",
        "",
        "       Подпись клиента не требуется",
    ]


def sample_document(
    kind: str,
    profile: PrinterProfile,
    *,
    check_url_base: str = SAMPLE_CHECK_URL_BASE,
    status: StatusReport | None = None,
    printer_url: str = "",
) -> Document:
    """A sample of ``policy``, ``letter``, ``memo``, ``test`` or ``slip``."""
    match kind:
        case "policy":
            return policy_document(sample_policy(), check_url_base)
        case "letter":
            return letter_document(sample_letter())
        case "memo":
            return memo_document(sample_memo())
        case "test":
            at = datetime(2026, 7, 28, 14, 0, tzinfo=KIOSK_TZ)
            return testpage_document(TestPageData(profile, at, SAMPLE_KIOSK_ID, printer_url, status))
        case "slip":
            return slip_document(sample_slip_lines())
    raise ValueError(f"no sample document {kind!r}")


SAMPLE_KINDS = ("policy", "letter", "memo", "test", "slip")
