"""The resolved tariff in force on a date, as the engine reads it.

Values are exact decimals. Every value is a :class:`Row`: the number plus where it came from (the
directive edition and table row) and a Russian label, so a price can be explained line by line. A row
whose value the research did not establish has ``value is None``; the engine refuses to price with it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "FACTOR_CODES",
    "TARIFF_CATEGORIES",
    "Corridor",
    "Formula",
    "KmGroup",
    "KvsGroup",
    "Region",
    "Row",
    "Tariff",
    "Unfriendly",
]

#: Factor codes in the order of the premium formula (Приложение 4 к 6007-У).
FACTOR_CODES: tuple[str, ...] = ("TB", "KT", "KBM", "KVS", "KO", "KM", "KS", "KN", "KP", "KPr")

#: Tariff categories of Приложение 1. Their mapping from vehicle data lives in ``contract``.
TARIFF_CATEGORIES: dict[str, str] = {
    "AM": "мотоциклы, мопеды, лёгкие квадрициклы (A, M)",
    "B_IND": "легковые (B, BE) физических лиц и ИП",
    "B_LEGAL": "легковые (B, BE) юридических лиц",
    "B_TAXI": "легковые (B, BE) такси",
    "C_LE16": "грузовые (C, CE) до 16 т",
    "C_GT16": "грузовые (C, CE) более 16 т",
    "D_LE16": "автобусы (D, DE) до 16 мест",
    "D_GT16": "автобусы (D, DE) более 16 мест",
    "D_ROUTE": "автобусы (D, DE) на регулярных перевозках",
    "TB": "троллейбусы",
    "TM": "трамваи",
    "TRACTOR": "тракторы и самоходные машины",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One value of a table with its provenance."""

    value: Decimal | None
    label: str
    source: str
    confidence: str = ""

    @property
    def known(self) -> bool:
        """False when the tariff tables do not establish this value."""
        return self.value is not None


@dataclass(frozen=True, slots=True)
class Corridor:
    """Base-rate corridor of one category; an unknown bound is None."""

    category: str
    name: str
    min: Decimal | None
    max: Decimal | None
    source: str
    confidence: str

    def contains(self, rate: Decimal) -> bool:
        """True when ``rate`` lies inside the known bounds."""
        return (self.min is None or rate >= self.min) and (self.max is None or rate <= self.max)

    def describe(self) -> str:
        """Russian text of the corridor, e.g. ``1 399–8 665 руб.``."""
        low = f"{self.min}" if self.min is not None else "?"
        high = f"{self.max}" if self.max is not None else "?"
        return f"{low}–{high} руб."


class Formula(enum.Enum):
    """Cases of Приложение 4 that differ in which factors apply."""

    INDIVIDUAL = "individual"
    LEGAL_ENTITY = "legal_entity"
    FOREIGN = "foreign"
    FOREIGN_LEGAL_ENTITY = "foreign_legal_entity"
    TRANSIT = "transit"
    TRANSIT_LEGAL_ENTITY = "transit_legal_entity"


@dataclass(frozen=True, slots=True)
class Region:
    """A subject of the Russian Federation with its КТ rows."""

    code: str
    name: str
    other: Row
    localities: dict[str, Row]
    #: Display names of localities by normalised key, for messages and pick lists.
    locality_names: dict[str, str]


@dataclass(frozen=True, slots=True)
class Unfriendly:
    """Special КТ for vehicles registered in states that commit unfriendly acts."""

    cars_and_motorcycles: frozenset[str]
    kt_cars_and_motorcycles: Row
    kt_other: Row


@dataclass(frozen=True, slots=True)
class KvsGroup:
    """КВС table for a set of categories; ``table is None`` means the table is not established."""

    name: str
    categories: frozenset[str]
    age_from: tuple[int, ...]
    experience_from: tuple[int, ...]
    #: rows by age band, columns by experience band; None marks an impossible combination.
    table: tuple[tuple[Row | None, ...], ...] | None
    source: str


@dataclass(frozen=True, slots=True)
class KmGroup:
    """КМ bands for a set of categories: ``(above, up_to or None for infinity, row)``."""

    name: str
    categories: frozenset[str]
    bands: tuple[tuple[Decimal, Decimal | None, Row], ...]


@dataclass(frozen=True, slots=True)
class Tariff:
    """Every table in force from ``effective_from`` until the next boundary of the book."""

    version: str
    title: str
    effective_from: dt.date
    source_file: str
    formulas: dict[Formula, frozenset[str]]
    cap_multiplier: Decimal
    cap_multiplier_with_kn: Decimal
    corridors: dict[str, Corridor]
    regions: dict[str, Region]
    foreign_kt: Row
    unfriendly: Unfriendly | None
    #: classes from worst (highest coefficient) to best, as listed in the scale
    kbm_order: tuple[str, ...]
    kbm: dict[str, Row]
    kbm_start_class: str
    kbm_transitions: dict[str, tuple[str, ...]]
    kvs: tuple[KvsGroup, ...]
    ko_limited: Row
    ko_unlimited: Row
    ko_legal_entity: Row
    km: tuple[KmGroup, ...]
    ks_months: dict[int, Row]
    ks_legal_entity_categories: frozenset[str]
    kp_foreign_days: tuple[tuple[int, int, Row], ...]
    kp_foreign_months: dict[int, Row]
    kp_transit_max_days: int
    kp_transit: Row
    kn: Row
    kpr: dict[str, Row]

    def kvs_group(self, category: str) -> KvsGroup:
        """The КВС group for a category (a specific group wins over the ``*`` group)."""
        fallback = None
        for group in self.kvs:
            if category in group.categories:
                return group
            if "*" in group.categories:
                fallback = group
        assert fallback is not None, "the loader guarantees a '*' КВС group"
        return fallback

    def km_group(self, category: str) -> KmGroup | None:
        """The КМ group for a category, or None when КМ does not apply to it."""
        for group in self.km:
            if category in group.categories:
                return group
        return None
