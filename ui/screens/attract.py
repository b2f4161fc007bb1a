"""Attract: what the kiosk does, the price "от …", "Начать"; a hidden corner for the technician."""

from __future__ import annotations

import time
from typing import Any

from kiosk.money import rub
from ui.screens.base import KioskScreen, load_kv

#: seconds a finger must rest on the top-right corner to ask for technician mode
LONG_PRESS = 3.0


class AttractScreen(KioskScreen):
    """The screen a passer-by sees."""

    def on_kv_post(self, _base: Any) -> None:
        self._pressed_at: float | None = None

    def refresh(self) -> None:
        lowest = self.app.lowest_premium
        if lowest is None:
            self.ids.price.text = ""
            self.ids.price_note.text = ""
            return
        self.ids.price.text = f"{self.tr('от')} {rub(lowest, kopecks=False)}"
        self.ids.price_note.text = self.tr(
            "Наименьшая премия по тарифам Банка России для легкового автомобиля на год: лучший класс КБМ, "
            "опытный водитель, небольшая мощность, регион с наименьшим коэффициентом. Точная цена — после расчёта."
        )

    def on_touch_down(self, touch: Any) -> bool:
        if self.ids.corner.collide_point(*touch.pos):
            self._pressed_at = time.monotonic()
            return True
        result: bool = super().on_touch_down(touch)
        return result

    def on_touch_up(self, touch: Any) -> bool:
        if self._pressed_at is not None and self.ids.corner.collide_point(*touch.pos):
            held = time.monotonic() - self._pressed_at
            self._pressed_at = None
            if held >= LONG_PRESS:
                self.app.technician_entry()
            return True
        self._pressed_at = None
        result: bool = super().on_touch_up(touch)
        return result


load_kv(__file__)
