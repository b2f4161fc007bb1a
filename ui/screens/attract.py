"""Attract: what the kiosk does, the price "от …", "Начать"; a hidden corner for the technician."""

from __future__ import annotations

from kiosk.money import rub
from ui.screens.base import KioskScreen, TechnicianCorner, load_kv


class AttractScreen(TechnicianCorner, KioskScreen):
    """The screen a passer-by sees."""

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


load_kv(__file__)
