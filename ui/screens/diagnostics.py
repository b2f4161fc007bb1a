"""Technician mode placeholder: the diagnostics screen arrives with issue 8 part B.

Reached only through ``app.technician_entry()`` (a long press in the attract screen's top-right
corner) when the ``ServiceMode`` says a verified card and PIN opened it; the idle watch is suspended
while it is shown.
"""

from __future__ import annotations

from ui.screens.base import KioskScreen, load_kv


class DiagnosticsScreen(KioskScreen):
    """Shows who is logged in; the lead fills in the diagnostics."""

    def refresh(self) -> None:
        mode = self.app.service_mode
        card = mode.state.card_id if mode is not None else None
        self.ids.status.text = f"Карта техника: {card or '—'}. Диагностика устройств будет здесь."


load_kv(__file__)
