"""The technician's PIN pad: reached only with a verified service card (``technician_screen``)."""

from __future__ import annotations

from typing import Any

from ui.screens.base import KioskScreen, load_kv
from ui.widgets import style


class TechnicianPinScreen(KioskScreen):
    """Digits only, shown as dots; attempts left and the lockout in plain Russian."""

    def _desk(self) -> Any:
        return self.app.technician

    def press(self, key: str) -> None:
        desk = self._desk()
        if desk is None:
            return
        if key == "back":
            desk.pad.backspace()
        else:
            desk.pad.press(key)
            desk.last_pin = None
        self.refresh_soon()

    def submit(self) -> None:
        self.app.submit_pin()

    def refresh(self) -> None:
        desk = self._desk()
        if desk is None:
            self.ids.card.text = "Диагностика на этом киоске не настроена"
            return
        view = desk.pin_view()
        self.ids.card.text = view.card
        self.ids.prompt.text = view.prompt
        self.ids.attempts.text = view.attempts
        self.ids.message.text = view.message
        self.ids.message.color = style.ERROR if view.error else style.TEXT
        self.ids.dots.text = desk.pad.masked or "—"
        self.ids.pad.disabled = not view.can_type
        self.ids.pad.opacity = 1 if view.can_type else 0.35
        self.ids.enter.disabled = not (view.can_type and desk.pad.complete)


load_kv(__file__)
