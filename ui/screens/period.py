"""Period: the start date (no earlier than the sale rule allows) and the period of use; then pricing."""

from __future__ import annotations

from kiosk.validation import FieldError
from ui.presenters.form import Form
from ui.screens.base import FormScreen, load_kv


class PeriodScreen(FormScreen):
    """The last data step: "Рассчитать" sends everything for pricing (with the КБМ look-up)."""

    def on_kv_post(self, base: object) -> None:
        super().on_kv_post(base)
        self.ids.nav.next_text = "Рассчитать"

    def form(self) -> Form:
        form: Form = self.flow.period.form
        return form

    def refresh(self) -> None:
        super().refresh()
        earliest = self.flow.earliest()
        self.ids.message.color = (0.4, 0.43, 0.48, 1)
        if not self.ids.message.text or self.ids.message.text.startswith(self.tr("Самая ранняя дата")):
            self.ids.message.text = f"{self.tr('Самая ранняя дата')}: {earliest:%d.%m.%Y}"

    def next(self) -> None:
        self.clear_message()
        try:
            self.flow.period.values()
        except FieldError as exc:
            self.ids.message.color = (0.76, 0.09, 0.09, 1)
            self.show_error(exc)
            return
        self.app.price()


load_kv(__file__)
