"""КБМ class arithmetic: the class for the next insurance year from this year's class and payouts.

The kiosk takes each driver's КБМ from the insurance database (АИС ОСАГО recalculates it every 1 April);
this arithmetic serves what-if displays ("one more claim would cost you …") and tests.
"""

from __future__ import annotations

from kiosk.tariffs.model import Tariff

__all__ = ["next_kbm_class"]


def next_kbm_class(tariff: Tariff, current: str, payouts: int) -> str:
    """The next class after a year with ``payouts`` insurance payouts (the last column means "or more")."""
    if payouts < 0:
        raise ValueError("the number of payouts cannot be negative")
    row = tariff.kbm_transitions.get(current)
    if row is None:
        raise ValueError(f"unknown КБМ class {current!r} (known: {', '.join(tariff.kbm_order)})")
    return row[min(payouts, len(row) - 1)]
