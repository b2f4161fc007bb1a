"""Fixtures for the tariff tests: the shipped tables, an engine, and request builders."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.tariffs import TariffBook, TariffEngine, load_base_rates, load_tariff_book

CONFIG = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="session")
def book() -> TariffBook:
    return load_tariff_book(CONFIG / "tariffs")


@pytest.fixture(scope="session")
def engine(book: TariffBook) -> TariffEngine:
    return TariffEngine(book, load_base_rates(CONFIG / "base_rates.toml", book))
