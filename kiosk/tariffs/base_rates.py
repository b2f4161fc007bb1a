"""The insurer's base rates (ТБ) per category and territory, validated against the corridors."""

from __future__ import annotations

import bisect
import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kiosk.tariffs.loader import TariffBook, _Reader
from kiosk.tariffs.model import TARIFF_CATEGORIES, Row

__all__ = ["BaseRates", "load_base_rates", "parse_base_rates"]


@dataclass(frozen=True, slots=True)
class _Period:
    effective_from: dt.date
    rates: dict[str, Row]
    regional: dict[str, dict[str, Row]]


@dataclass(frozen=True)
class BaseRates:
    """Base rates by period; :meth:`rate` picks the one for a date, category and region."""

    insurer: str
    dates: tuple[dt.date, ...]
    periods: tuple[_Period, ...]

    def rate(self, day: dt.date, category: str, region: str | None) -> Row | None:
        """The filed ТБ, or None when the insurer has no rate for this category on that day."""
        index = bisect.bisect_right(self.dates, day) - 1
        if index < 0:
            return None
        period = self.periods[index]
        if region is not None:
            regional = period.regional.get(region)
            if regional is not None and category in regional:
                return regional[category]
        return period.rates.get(category)

    def minimum(self, day: dt.date, category: str) -> Decimal | None:
        """The lowest ТБ filed for a category on a day (for "from … roubles" on the attract screen)."""
        index = bisect.bisect_right(self.dates, day) - 1
        if index < 0:
            return None
        period = self.periods[index]
        values = [
            row.value
            for row in [period.rates.get(category), *(r.get(category) for r in period.regional.values())]
            if row and row.value
        ]
        return min(values) if values else None


def load_base_rates(path: str | Path, book: TariffBook) -> BaseRates:
    """Read the base-rate file and check every rate against the corridors of ``book``."""
    file = Path(path)
    return parse_base_rates(file.name, file.read_bytes(), book)


def parse_base_rates(file: str, content: bytes | str, book: TariffBook) -> BaseRates:
    """Parse base rates; a rate outside the corridor in force is a :class:`TariffTableError`."""
    r = _Reader(file)
    try:
        doc = tomllib.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise r.error("", f"not valid TOML: {exc}") from None
    r.table(doc, "", ("schema", "insurer", "periods"))
    if doc.get("schema") != 1:
        raise r.error("schema", "expected schema = 1")
    insurer = r.text(r.require(doc, "insurer", ""), "insurer")
    raw_periods = r.require(doc, "periods", "")
    if not isinstance(raw_periods, list) or not raw_periods:
        raise r.error("periods", "expected a non-empty array of tables [[periods]]")
    periods: list[_Period] = []
    for index, raw in enumerate(raw_periods):
        path = f"periods[{index}]"
        body = r.table(raw, path, ("effective_from", "rates", "regional"))
        since = r.date(r.require(body, "effective_from", path), f"{path}.effective_from")
        if periods and since <= periods[-1].effective_from:
            raise r.error(f"{path}.effective_from", "periods must be in date order")
        if since < book.first_date:
            raise r.error(f"{path}.effective_from", f"before the first tariff edition ({book.first_date})")
        rates = _rates(r, r.require(body, "rates", path), f"{path}.rates", None)
        regional: dict[str, dict[str, Row]] = {}
        for j, raw_entry in enumerate(body.get("regional", [])):
            entry_path = f"{path}.regional[{j}]"
            entry = r.table(raw_entry, entry_path, ("region", "rates"))
            region = r.text(r.require(entry, "region", entry_path), f"{entry_path}.region")
            if not (region.isdigit() and len(region) == 2):
                raise r.error(f"{entry_path}.region", 'expected a two-digit region code, e.g. "77"')
            regional[region] = _rates(r, r.require(entry, "rates", entry_path), f"{entry_path}.rates", region)
        periods.append(_Period(since, rates, regional))
    for index, period in enumerate(periods):
        until = periods[index + 1].effective_from if index + 1 < len(periods) else None
        _check_corridors(r, book, period, until, f"periods[{index}]")
    return BaseRates(insurer, tuple(p.effective_from for p in periods), tuple(periods))


def _rates(r: _Reader, value: object, path: str, region: str | None) -> dict[str, Row]:
    body: Mapping[str, Any] = r.table(value, path)
    rates: dict[str, Row] = {}
    where = f", регион {region}" if region else ""
    for category, amount in body.items():
        if category not in TARIFF_CATEGORIES:
            raise r.error(f"{path}.{category}", f"unknown tariff category {category!r}")
        rates[category] = Row(
            r.known_decimal(amount, f"{path}.{category}"),
            f"базовая ставка страховщика: {TARIFF_CATEGORIES[category]}{where}",
            f"{r.file}: {path}.{category}",
        )
    return rates


def _check_corridors(r: _Reader, book: TariffBook, period: _Period, until: dt.date | None, path: str) -> None:
    """Every rate must fit every corridor in force at any time during the period."""
    for day, tariff in zip(book.dates, book.tariffs, strict=True):
        next_index = book.dates.index(day) + 1
        ends = book.dates[next_index] if next_index < len(book.dates) else None
        overlaps = (ends is None or ends > period.effective_from) and (until is None or day < until)
        if not overlaps:
            continue
        tables = [("rates", period.rates)] + [
            (f"regional[{code}].rates", rates) for code, rates in period.regional.items()
        ]
        for where, rates in tables:
            for category, row in rates.items():
                assert row.value is not None
                corridor = tariff.corridors.get(category)
                field = f"{path}.{where}.{category}"
                if corridor is None:
                    raise r.error(field, f"{tariff.version} sets no corridor for {category} (in force from {day})")
                if not corridor.contains(row.value):
                    raise r.error(
                        field,
                        f"{row.value} is outside the corridor {corridor.describe()} "
                        f"of {tariff.version} (in force from {day})",
                    )
