"""Printed-text conventions shared by the documents: money, dates, cover periods, templates.

Amounts and dates use U+00A0 (no-break space) so a line is never broken inside them; the printer
receives an ordinary space. "₽" is in no printer code page, so amounts end in "руб.".
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from drivers.printer.layout import NBSP

KIOSK_TZ = ZoneInfo("Europe/Moscow")
CENTS = Decimal("0.01")


def date_ru(value: date) -> str:
    """``01.08.2026``."""
    return value.strftime("%d.%m.%Y")


def local(moment: datetime) -> datetime:
    """An aware datetime on the kiosk clock (Europe/Moscow); naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("datetimes on documents must be timezone-aware")
    return moment.astimezone(KIOSK_TZ)


def moment_ru(moment: datetime) -> str:
    """``00 ч 00 мин 01.08.2026`` on the kiosk clock, never broken across lines."""
    at = local(moment)
    return f"{at:%H} ч {at:%M} мин {date_ru(at.date())}".replace(" ", NBSP)


def end_moment_ru(moment: datetime) -> str:
    """An end of cover: midnight is written as ``24 ч 00 мин`` of the day before (the policy form)."""
    at = local(moment)
    if (at.hour, at.minute, at.second) == (0, 0, 0):
        return f"24 ч 00 мин {date_ru(at.date() - timedelta(days=1))}".replace(" ", NBSP)
    return moment_ru(at)


def load_template(name: str, path: Path | None = None) -> Mapping[str, Any]:
    """A document's wording: ``kiosk/documents/templates/<name>.toml``, or another file by path.

    Wording that rests on low-confidence facts (the information letter, legal deadlines in the
    claims memo) lives in these files so it can be corrected without a code change.
    """
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:
        text = (resources.files("kiosk.documents") / "templates" / f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)
