"""The application path: the insurer is unreachable, so no payment — an application and a letter."""

from __future__ import annotations

from typing import Any

from ui.screens.base import KioskScreen, load_kv
from ui.widgets.common import KButton

_OFFER = (
    "Сейчас нет связи со страховой компанией, поэтому оплатить полис на киоске нельзя. Можно подать "
    "заявление: киоск напечатает информационное письмо с номером заявления. Возьмите его и документы в "
    "офис страховщика в течение 7 дней — там оформят полис по этому расчёту."
)


class ApplicationScreen(KioskScreen):
    """Offer (pick an office, "Подать заявление") or result (the application number)."""

    def on_kv_post(self, _base: Any) -> None:
        self.office = 0

    def refresh(self) -> None:
        view = self.app.outcome_view
        nav = self.ids.nav
        offices = self.ids.offices
        offices.clear_widgets()
        if view is not None and view.application:
            self.ids.title.text = self.tr("Заявление принято")
            self.ids.body.text = f"{self.tr('Номер заявления')}: {view.application}\n\n" + self.tr(
                "Возьмите информационное письмо из лотка принтера и приходите в офис в течение 7 дней."
            )
            self.ids.money.text = self.tr(view.money)
            nav.next_text, nav.show_back, nav.show_cancel = "Готово", False, False
            return
        self.ids.title.text = self.tr("Оформление через офис")
        self.ids.body.text = self.tr(_OFFER) + "\n\n" + self.tr("Выберите офис, куда придёте:")
        self.ids.money.text = self.tr("Деньги не списываются.")
        nav.next_text, nav.show_back, nav.show_cancel = "Подать заявление", True, True
        for index, name in enumerate(self.flow.offices):
            button = KButton(text=name, kind="primary" if index == self.office else "secondary", height=64)
            button.index = index
            button.bind(on_release=self._pick)
            offices.add_widget(button)

    def _pick(self, button: Any) -> None:
        self.office = button.index
        self.refresh_soon()

    def next(self) -> None:
        view = self.app.outcome_view
        if view is not None and view.application:
            self.app.finish()
            return
        self.app.apply(self.office)


load_kv(__file__)
