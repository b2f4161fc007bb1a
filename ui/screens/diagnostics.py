"""Technician mode: one screen of traffic-light tiles, each opening its details and actions.

Reached only through ``app.technician_entry()`` with a verified service card and its PIN
(``ui.presenters.technician.technician_screen``); the customer idle watch is suspended meanwhile, and
pulling the card (or the service session's idle time) returns to the attract screen at once.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from ui.presenters.technician import LIGHT_WORD
from ui.screens.base import KioskScreen, load_kv


class LightTile(ButtonBehavior, BoxLayout):  # type: ignore[misc]
    """One part of the kiosk: its colour, its word (never colour alone) and a short summary."""

    key = StringProperty("")
    title = StringProperty("")
    light = StringProperty("green")
    word = StringProperty("")
    summary = StringProperty("")


class DiagnosticsScreen(KioskScreen):
    """The tiles of ``app.technician`` (checked in a worker when the screen opens and on "Обновить")."""

    def on_kv_post(self, _base: Any) -> None:
        self._tiles: dict[str, LightTile] = {}

    def refresh(self) -> None:
        desk = self.app.technician
        mode = self.app.service_mode
        card = mode.state.card_id if mode is not None else None
        self.ids.who.text = f"Режим техника · карта {card or '—'}"
        if desk is None:
            self.ids.verdict.text = "Диагностика на этом киоске не настроена"
            return
        ok, text = desk.verdict()
        self.ids.verdict.text = text or "Проверяем…"
        self.ids.verdict_bar.ok = ok
        self.ids.checked.text = desk.checked_text()
        grid = self.ids.grid
        keys = [tile.key for tile in desk.tiles]
        if keys != list(self._tiles):
            grid.clear_widgets()
            self._tiles = {}
            for key in keys:
                widget = LightTile(key=key)
                widget.bind(on_release=self.open_tile)
                self._tiles[key] = widget
                grid.add_widget(widget)
        for tile in desk.tiles:
            widget = self._tiles[tile.key]
            widget.title = tile.title
            widget.light = tile.light.value
            widget.word = LIGHT_WORD[tile.light].upper()
            widget.summary = tile.summary

    def open_tile(self, widget: LightTile) -> None:
        self.app.screen("diagnostics_detail").key = widget.key
        self.app.go("diagnostics_detail")


load_kv(__file__)
