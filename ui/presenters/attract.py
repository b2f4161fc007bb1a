"""The attract screen's "от … руб." — the lowest premium the tariff allows for a car.

How it is computed (and why it is honest): for category B (an individual's car, 12 months of use,
a limited driver list) on the earliest start date a customer can choose, the product of the lowest
value of every coefficient that applies to such a car: the insurer's lowest filed ТБ times the lowest
КТ *in the same region* (minimised over regions), the best КБМ class, the lowest КВС cell, КО for a
limited list, the lowest КМ band, КС for 12 months. No customer pays less; careful drivers with small
cars in small towns pay about this much. Unknown table cells (``"unknown"``) are skipped.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal

from kiosk.tariffs import TariffEngine

__all__ = ["lowest_premium"]

_CATEGORY = "B_IND"


def _known(values: list[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def lowest_premium(engine: TariffEngine, day: dt.date, category: str = _CATEGORY) -> Decimal | None:
    """The lowest premium for ``category`` on ``day`` in whole roubles (rounded up), or None if unpriced."""
    tariff = engine.tariff_for(day)
    territory: list[Decimal | None] = []
    for region in tariff.regions.values():
        rate = engine.base_rates.rate(day, category, region.code)
        kt = _known([region.other.value, *(row.value for row in region.localities.values())])
        if rate is not None and rate.value is not None and kt is not None:
            territory.append(rate.value * kt)
    tb_kt = _known(territory)
    kbm = _known([row.value for row in tariff.kbm.values()])
    kvs_group = tariff.kvs_group(category)
    kvs = _known([cell.value for row in kvs_group.table or () for cell in row if cell is not None]) or Decimal(1)
    km_group = tariff.km_group(category)
    km = _known([row.value for _, _, row in km_group.bands]) if km_group else Decimal(1)
    ks = tariff.ks_months.get(12)
    ko = tariff.ko_limited.value
    if None in (tb_kt, kbm, km, ko) or ks is None or ks.value is None:
        return None
    product = Decimal(1)
    for factor in (tb_kt, kbm, kvs, km, ko, ks.value):
        assert factor is not None
        product *= factor
    return product.quantize(Decimal(1), rounding=ROUND_CEILING)
