"""The technician's test page: profile, code page sample, QR, barcode and the status just read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drivers.printer.layout import QR, Align, Barcode, Block, Cut, Document, KeyValue, Text, Title
from drivers.printer.profiles import PrinterProfile
from drivers.printer.status import StatusReport
from kiosk.documents.common import bullets, section
from kiosk.documents.text import date_ru, local

# Every letter of the Russian alphabet and the signs a policy needs: a wrong code page shows at once.
ALPHABET_UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
ALPHABET_LOWER = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
SIGNS = "№ 0123456789 ,.;:!?()-+=/%\"' руб."


@dataclass(frozen=True, slots=True)
class TestPageData:
    """What the test page reports. ``status`` is the report read just before printing."""

    __test__ = False  # not a pytest test class, despite the name

    profile: PrinterProfile
    printed_at: datetime
    kiosk_id: str
    printer_url: str
    status: StatusReport | None = None
    qr_data: str = "OSAGO-KIOSK-PRINTER-TEST"

    def __post_init__(self) -> None:
        if not self.kiosk_id or not self.kiosk_id.isascii() or len(self.kiosk_id) > 24:
            raise ValueError("the kiosk id must be 1..24 ASCII characters (it is printed as a barcode)")
        local(self.printed_at)


def ruler(columns: int) -> str:
    """``1234567890123...`` exactly ``columns`` long: the last digit must end at the right edge."""
    return "".join(str((i + 1) % 10) for i in range(columns))


def _halves(text: str) -> tuple[str, str]:
    """Two lines that fit even 58 mm paper (the alphabet has 33 letters, the paper 32 columns)."""
    middle = (len(text) + 1) // 2
    return text[:middle], text[middle:]


def testpage_document(data: TestPageData) -> Document:
    """The test page as a layout."""
    p = data.profile
    at = local(data.printed_at)
    status_lines: list[Block]
    if data.status is None:
        status_lines = [Text("не запрашивался")]
    else:
        conditions = [c.text for c in (*data.status.blocking, *data.status.warnings)]
        status_lines = [Text(data.status.summary(), bold=True), *bullets(conditions)]
    blocks: list[Block] = [
        Title("ТЕСТ ПРИНТЕРА"),
        Text(f"{data.kiosk_id} {date_ru(at.date())} {at:%H:%M}", align=Align.CENTER),
        *section("Профиль"),
        KeyValue("Профиль", p.name),
        Text(p.description),
        Text("Адрес: " + data.printer_url),
        KeyValue("Бумага", f"{p.paper_mm} мм, {p.width_dots} точек, {p.dpi} dpi"),
        KeyValue("Колонок (шрифт A / B)", f"{p.columns} / {p.columns_small}"),
        KeyValue("Кодовая страница", f"{p.code_page} (ESC t {p.code_page_number})"),
        KeyValue("Отрезка", "полная" if p.cut == "full" else "частичная"),
        KeyValue("Презентер", p.presenter.hex(" ").upper() if p.presenter else "нет"),
        *section("Состояние"),
        *status_lines,
        *section("Кодовая страница"),
        *(Text(half) for half in _halves(ALPHABET_UPPER)),
        *(Text(half) for half in _halves(ALPHABET_LOWER)),
        Text(SIGNS),
        Text(ruler(p.columns)),
        Text(ruler(p.columns_small), small=True),
        Text("Жирный шрифт", bold=True),
        Title("Крупный", large=True, align=Align.LEFT),
        *section("Коды"),
        QR(data.qr_data, caption=f"QR: {data.qr_data}"),
        Barcode(data.kiosk_id),
        Cut(),
    ]
    return Document.of("test", blocks)
