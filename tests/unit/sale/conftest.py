"""A sale service on hand-written fakes: recording terminal and printer, in-memory insurer, temp journal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drivers.payment.recorder import RecordingTerminal
from drivers.printer.recorder import RecordingPrinter
from kiosk.documents.common import InsurerInfo
from kiosk.documents.letter import OfficeInfo
from kiosk.insurer.simulator import InsurerSimulator, SimulatorDataset
from kiosk.journal.db import Journal, open_journal
from kiosk.privacy import PersonalDataCipher
from kiosk.sale.paper import Paper
from kiosk.sale.service import SaleConfig, SaleService
from kiosk.tariffs import TariffEngine, load_base_rates, load_tariff_book

CONFIG = Path(__file__).resolve().parents[3] / "config"
MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def tariffs() -> TariffEngine:
    book = load_tariff_book(CONFIG / "tariffs")
    return TariffEngine(book, load_base_rates(CONFIG / "base_rates.toml", book))


@dataclass
class Rig:
    """A service and the fakes behind it; ``restart`` builds a new service on the same journal."""

    path: Path
    tariffs: TariffEngine
    cipher: PersonalDataCipher
    config: SaleConfig
    terminal: RecordingTerminal = field(default_factory=RecordingTerminal)
    printer: RecordingPrinter = field(default_factory=RecordingPrinter)
    insurer: InsurerSimulator = field(
        default_factory=lambda: InsurerSimulator(SimulatorDataset.load(CONFIG / "insurer_simulator.toml"))
    )
    checkpoint: Callable[[str], None] | None = None
    service: SaleService = field(init=False)
    journal: Journal = field(init=False)

    def __post_init__(self) -> None:
        self.journal = open_journal(self.path)
        self.service = self._build()

    def _build(self) -> SaleService:
        return SaleService(
            journal=self.journal, tariffs=self.tariffs, terminal=self.terminal, printer=self.printer,
            insurer=self.insurer, cipher=self.cipher, config=self.config, clock=lambda: NOW,
            checkpoint=self.checkpoint, sleep=lambda _s: None,
        )  # fmt: skip

    def restart(self, terminal: RecordingTerminal | None = None) -> SaleService:
        """A new kiosk process: same journal and insurer, the terminal as it now is."""
        self.journal.close()
        self.journal = open_journal(self.path)
        self.terminal = terminal or self.terminal
        self.checkpoint = None
        self.service = self._build()
        return self.service


@pytest.fixture
def rig(tmp_path: Path, tariffs: TariffEngine) -> Rig:
    config = SaleConfig(
        kiosk_id="KIOSK-TEST",
        zone=MOSCOW,
        paper=Paper(InsurerInfo("АО «Тест»", "8 800 000-00-00"), "https://check.example/check", MOSCOW),
        offices=(OfficeInfo("Офис «Центральный»", "г. Москва, ул. Примерная, д. 1"),),
        earliest_start_days=3,
        settle_attempts=3,
        settle_pause=0,
    )
    return Rig(
        tmp_path / "journal.db", tariffs, PersonalDataCipher.from_key_file(tmp_path / "key", create=True), config
    )
