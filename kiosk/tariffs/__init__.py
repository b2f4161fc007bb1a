"""OSAGO tariffs (Указание Банка России 6007-У with amendments): tables as data and an exact engine.

Pure domain: standard library only, no I/O except reading the table files the caller points at.
"""

from kiosk.tariffs.base_rates import BaseRates, load_base_rates, parse_base_rates
from kiosk.tariffs.contract import decode_json, parse_request, quote_to_json, tariff_category
from kiosk.tariffs.engine import (
    HP_PER_KW,
    Driver,
    Factor,
    OwnerType,
    Quote,
    QuoteRequest,
    Registration,
    TariffEngine,
)
from kiosk.tariffs.kbm import next_kbm_class
from kiosk.tariffs.loader import (
    TariffBook,
    TariffTableError,
    load_tariff_book,
    locality_key,
    parse_tariff_files,
)
from kiosk.tariffs.model import FACTOR_CODES, TARIFF_CATEGORIES, Row, Tariff

__all__ = [
    "FACTOR_CODES",
    "HP_PER_KW",
    "TARIFF_CATEGORIES",
    "BaseRates",
    "Driver",
    "Factor",
    "OwnerType",
    "Quote",
    "QuoteRequest",
    "Registration",
    "Row",
    "Tariff",
    "TariffBook",
    "TariffEngine",
    "TariffTableError",
    "decode_json",
    "load_base_rates",
    "load_tariff_book",
    "locality_key",
    "next_kbm_class",
    "parse_base_rates",
    "parse_request",
    "parse_tariff_files",
    "quote_to_json",
    "tariff_category",
]
