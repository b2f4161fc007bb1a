"""Builders for quote-contract requests used across the tariff tests."""

from __future__ import annotations

import datetime as dt
from typing import Any


def years_before(on: dt.date, years: int, days: int = 40) -> dt.date:
    """A date from which exactly ``years`` full years have passed on ``on`` (``days`` of margin)."""
    anniversary = (
        on.replace(year=on.year - years)
        if not (on.month == 2 and on.day == 29)
        else on.replace(year=on.year - years, day=28)
    )
    return anniversary - dt.timedelta(days=days)


def driver(on: str, age: int, experience: int, kbm_class: str) -> dict[str, Any]:
    """A driver of the quote contract who is ``age`` with ``experience`` full years on ``on``."""
    day = dt.date.fromisoformat(on)
    return {
        "birth_date": years_before(day, age).isoformat(),
        "licence_date": years_before(day, experience, days=20).isoformat(),
        "kbm_class": kbm_class,
    }
