"""A flagged sale: the technician chooses what happened to the money, gives the reason, confirms."""

from __future__ import annotations

from typing import Any

from kivy.properties import StringProperty
from kivy.uix.modalview import ModalView

from ui.presenters.technician import REASONS, RESOLUTIONS, ActionResult, ResolveForm, TechnicianDesk, sale_summary
from ui.screens.base import KioskScreen, load_kv
from ui.widgets.common import KButton


class ConfirmDecision(ModalView):  # type: ignore[misc]
    """ "Подтвердите решение" with the decision spelled out; nothing is recorded without it."""

    text = StringProperty("")
    __events__ = ("on_confirm",)

    def on_confirm(self) -> None:
        """Dispatched by "Подтвердить"."""


class DiagnosticsResolveScreen(KioskScreen):
    """The oldest flagged sale first (others one tap away), three resolutions, a required reason."""

    def on_kv_post(self, _base: Any) -> None:
        self.form: ResolveForm | None = None
        self.sales: list[dict[str, Any]] = []
        keyboard = self.ids.keyboard
        keyboard.bind(on_textinput=self._typed, on_key_down=self._key)
        for state, label in RESOLUTIONS:
            button = KButton(text=label, kind="secondary", font_size=24, height=64)
            button.value = state.value
            button.bind(on_release=lambda b: self.choose(b.value))
            self.ids.resolutions.add_widget(button)
        for text in REASONS:
            chip = KButton(text=text, kind="secondary", font_size=20, height=56)
            chip.bind(on_release=lambda b: self.reason(b.text))
            self.ids.reasons.add_widget(chip)

    def on_pre_enter(self, *_args: Any) -> None:
        desk = self.app.technician
        self.sales = desk.flagged() if desk is not None else []
        self.form = ResolveForm(self.sales[0]) if self.sales else None
        self.ids.message.text = ""
        super().on_pre_enter()

    # -- input ---------------------------------------------------------------------------------
    def _typed(self, _keyboard: Any, text: str) -> None:
        self.type_text(text)

    def _key(self, _keyboard: Any, keycode: Any, _text: Any, _modifiers: Any) -> None:
        if keycode == "backspace":
            self.hardware_backspace()

    def type_text(self, text: str) -> None:
        if self.form is not None and len(self.form.note) < 300:
            self.form.note += text
            self.refresh_soon()

    def hardware_backspace(self) -> None:
        if self.form is not None:
            self.form.note = self.form.note[:-1]
            self.refresh_soon()

    def choose_sale(self, sale: dict[str, Any]) -> None:
        self.form = ResolveForm(sale)
        self.refresh_soon()

    def choose(self, value: str) -> None:
        if self.form is not None:
            self.form.resolution = next(state for state, _ in RESOLUTIONS if state.value == value)
            self.ids.message.text = ""
            self.refresh_soon()

    def reason(self, text: str) -> None:
        if self.form is not None:
            self.form.note = text
            self.ids.message.text = ""
            self.refresh_soon()

    # -- drawing -------------------------------------------------------------------------------
    def refresh(self) -> None:
        form = self.form
        desk = self.app.technician
        sales_box = self.ids.sales
        sales_box.clear_widgets()
        if form is None or desk is None:
            self.ids.sale.text = "Спорных продаж нет"
            self.ids.note.text = ""
            return
        sale = form.sale
        self.ids.sale.text = sale_summary(sale, desk.zone)
        if len(self.sales) > 1:
            for other in self.sales:
                button = KButton(text=str(other["id"])[:8], kind="primary" if other is sale else "secondary",
                                 font_size=22, size_hint_x=None, width=170, height=56)  # fmt: skip
                button.bind(on_release=lambda _b, chosen=other: self.choose_sale(chosen))
                sales_box.add_widget(button)
        for button in self.ids.resolutions.children:
            chosen = form.resolution is not None and button.value == form.resolution.value
            button.kind = "primary" if chosen else "secondary"
        self.ids.note.text = form.note or "Основание: выберите ниже или наберите на клавиатуре"
        self.ids.note.color = self.ids.sale.color if form.note else (0.62, 0.65, 0.70, 1)

    # -- deciding ------------------------------------------------------------------------------
    def decide(self) -> None:
        form = self.form
        if form is None:
            return
        problem = form.problem()
        if problem is not None:
            self.ids.message.text = problem
            return
        confirm = ConfirmDecision(text=form.confirmation())
        confirm.bind(on_confirm=lambda *_: self._record(form))
        confirm.open()

    def _record(self, form: ResolveForm) -> None:
        desk = self.app.technician
        if not isinstance(desk, TechnicianDesk):
            return
        self.app.technician_work(lambda: desk.resolve(form), self._recorded, "Записываем решение…")

    def _recorded(self, result: ActionResult) -> None:
        detail = self.app.screen("diagnostics_detail")
        detail.key = "database"
        detail.finished(result)
        if self.app.root.current == self.name:
            self.app.go("diagnostics_detail")


load_kv(__file__)
