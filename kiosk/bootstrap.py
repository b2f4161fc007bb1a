"""The one place that builds real objects from configuration.

Services receive what they need as parameters; tests pass fakes instead of calling these builders.
"""

from __future__ import annotations

from kiosk.config import KioskSettings
from kiosk.tariffs import TariffEngine, load_base_rates, load_tariff_book

__all__ = ["tariff_engine"]


def tariff_engine(settings: KioskSettings) -> TariffEngine:
    """The tariff book and the insurer's base rates named by the configuration, validated."""
    book = load_tariff_book(settings.path(settings.tariffs.dir))
    rates = load_base_rates(settings.path(settings.tariffs.base_rates), book)
    return TariffEngine(book, rates)
