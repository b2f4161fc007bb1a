"""Sale services on fast fakes for the e2e scenarios (the happy path uses the real drivers)."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from drivers.payment.codes import Outcome
from drivers.payment.models import Authorisation
from drivers.payment.recorder import RecordingTerminal
from drivers.printer.recorder import RecordingPrinter
from kiosk.documents.common import InsurerInfo
from kiosk.documents.letter import OfficeInfo
from kiosk.insurer.simulator import InsurerSimulator, SimulatorDataset
from kiosk.journal.db import open_journal
from kiosk.privacy import PersonalDataCipher
from kiosk.sale.paper import Paper
from kiosk.sale.service import SaleConfig, SaleService
from kiosk.tariffs import TariffEngine, load_base_rates, load_tariff_book

CONFIG = Path(__file__).resolve().parents[2] / "config"
MOSCOW = ZoneInfo("Europe/Moscow")
_ENGINE: list[TariffEngine] = []


def engine() -> TariffEngine:
    if not _ENGINE:
        book = load_tariff_book(CONFIG / "tariffs")
        _ENGINE.append(TariffEngine(book, load_base_rates(CONFIG / "base_rates.toml", book)))
    return _ENGINE[0]


class WaitingTerminal(RecordingTerminal):
    """Shows the card prompt, then waits for the customer — who presses "Отмена" (abort)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(status_texts=("Вставьте или приложите карту",), **kw)
        self.aborted = threading.Event()

    def authorise(self, amount: Decimal, *, on_status: Any = None) -> Authorisation:
        if on_status is not None:
            on_status("Вставьте или приложите карту")
        if not self.aborted.wait(30):
            raise AssertionError("nobody pressed Отмена")
        self.script_authorisations(Outcome.CANCELLED_BY_CUSTOMER)
        self.status_texts = ("Операция отменена",)
        return super().authorise(amount, on_status=on_status)

    def abort(self) -> bool:
        self.aborted.set()
        super().abort()
        return True


def fake_service(
    tmp: Path, *, terminal: Any = None, printer: Any = None, faults: set[str] | None = None
) -> SaleService:
    """A SaleService on a temp journal with recording devices and the in-process insurer."""
    config = SaleConfig(
        kiosk_id="KIOSK-E2E",
        zone=MOSCOW,
        paper=Paper(InsurerInfo("АО «Тест»", "8 800 000-00-00"), "http://127.0.0.1:8080/check", MOSCOW),
        offices=(
            OfficeInfo("Офис «Центральный»", "г. Москва, ул. Примерная, д. 1"),
            OfficeInfo("Офис «Северный»", "г. Москва, Дмитровское ш., д. 10"),
        ),
        earliest_start_days=3,
        settle_attempts=2,
        settle_pause=0,
    )
    return SaleService(
        journal=open_journal(tmp / "journal.db"),
        tariffs=engine(),
        terminal=terminal or RecordingTerminal(),
        printer=printer or RecordingPrinter(),
        insurer=InsurerSimulator(SimulatorDataset.load(CONFIG / "insurer_simulator.toml"), faults=faults or set()),
        cipher=PersonalDataCipher.from_key_file(tmp / "key", create=True),
        config=config,
    )
