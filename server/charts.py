"""Server-rendered SVG charts (no JavaScript, no external assets: the dashboard works offline)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal
from html import escape

from server.reports import DaySales

__all__ = ["PALETTE", "nice_step", "sales_chart"]

#: colour-blind-safe palette (Okabe–Ito), one colour per kiosk
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def nice_step(maximum: Decimal, ticks: int = 5) -> Decimal:
    """A round gridline step (1, 2 or 5 × 10ⁿ) giving about ``ticks`` lines up to ``maximum``."""
    if maximum <= 0:
        return Decimal(1)
    raw = maximum / ticks
    power = Decimal(10) ** (len(str(int(raw))) - 1) if raw >= 1 else Decimal(1)
    for factor in (1, 2, 5, 10):
        if raw <= power * factor:
            return power * factor
    return power * 10


def _short_money(value: Decimal) -> str:
    """Axis labels: ``0``, ``500``, ``5 тыс.``, ``2,5 млн``."""
    for size, unit in ((Decimal(1_000_000), " млн"), (Decimal(1000), " тыс.")):
        if value >= size:
            return f"{(value / size).normalize():f}".replace(".", ",") + unit
    return f"{value.normalize():f}"


def sales_chart(rows: Sequence[DaySales], first: dt.date, days: int, kiosks: Sequence[str]) -> str:
    """Stacked bars of premium per day, one colour per kiosk, with gridlines, labels and a legend."""
    width, height = 960, 360
    left, right, top, bottom = 84, 16, 24, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    by_day: dict[dt.date, dict[str, Decimal]] = defaultdict(dict)
    counts: dict[dt.date, int] = defaultdict(int)
    for row in rows:
        by_day[row.day][row.kiosk_id] = row.premium
        counts[row.day] += row.count
    order = list(kiosks) + sorted({r.kiosk_id for r in rows} - set(kiosks))
    colours = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(order)}
    peak = max((sum(v.values(), Decimal(0)) for v in by_day.values()), default=Decimal(0))
    step = nice_step(peak)
    # Room above the highest bar for its label: one more gridline when the bar nearly touches the top.
    lines = (peak / step).to_integral_value(rounding=ROUND_CEILING) if peak > 0 else Decimal(5)
    if peak > 0 and peak / (step * lines) > Decimal("0.92"):
        lines += 1
    top_value = step * max(Decimal(1), lines)
    slot = plot_w / days
    bar = max(2.0, slot * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Премия по дням и киоскам" class="chart" font-family="sans-serif" font-size="13">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    line = Decimal(0)
    while line <= top_value:
        y = top + plot_h - float(line / top_value) * plot_h
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9dde3"/>')
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#333">{escape(_short_money(line))}</text>'
        )
        line += step
    label_every = 1 if days <= 14 else (2 if days <= 31 else 7)
    for index in range(days):
        day = first + dt.timedelta(days=index)
        x = left + index * slot + (slot - bar) / 2
        y = top + plot_h
        for kiosk in order:
            value = by_day.get(day, {}).get(kiosk)
            if not value:
                continue
            h = float(value / top_value) * plot_h
            y -= h
            title = f"{day:%d.%m.%Y} {kiosk}: {value} руб."
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colours[kiosk]}">'
                f"<title>{escape(title)}</title></rect>"
            )
        if counts.get(day):
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" fill="#333">'
                f"{counts[day]}</text>"
            )
        # Labels counted back from the last day, so the newest day always has one and none overlap.
        if (days - 1 - index) % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#333">'
                f"{day:%d.%m}</text>"
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#555"/>')
    legend_x = left
    for kiosk in order:
        parts.append(
            f'<rect x="{legend_x}" y="{height - 22}" width="14" height="14" fill="{colours[kiosk]}"/>'
            f'<text x="{legend_x + 20}" y="{height - 10}" fill="#222">{escape(kiosk)}</text>'
        )
        legend_x += 28 + 9 * len(kiosk)
    parts.append(
        f'<text x="{width - right}" y="{height - 10}" text-anchor="end" fill="#555">'
        "руб. в день; цифра над столбцом — число полисов</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
