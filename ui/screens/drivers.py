"""Drivers: up to five with licence and experience, or an unlimited list ("без ограничений")."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty

from ui.presenters.form import Form
from ui.screens.base import FormScreen, load_kv
from ui.widgets.common import KButton


class DriversScreen(FormScreen):
    """The third data step: one driver on screen at a time, tabs to switch."""

    unlimited = BooleanProperty(False)

    def form(self) -> Form:
        form: Form = self.flow.drivers.form
        return form

    def visible(self) -> list[str]:
        return [] if self.flow.drivers.unlimited else self.form().names

    def refresh(self) -> None:
        drivers = self.flow.drivers
        self.unlimited = drivers.unlimited
        tabs = self.ids.tabs
        tabs.clear_widgets()
        if not drivers.unlimited:
            for index in range(len(drivers.drivers)):
                tab = KButton(
                    text=f"{self.tr('Водитель')} {index + 1}",
                    kind="primary" if index == drivers.current else "secondary",
                    font_size=20,
                    height=52,
                )
                tab.index = index
                tab.bind(on_release=self._show)
                tabs.add_widget(tab)
            if drivers.can_add:
                tabs.add_widget(self._button("+ Добавить", self.add))
            tabs.add_widget(self._button("Как у собственника", self.copy_owner))
            tabs.add_widget(self._button("Удалить", self.remove))
        super().refresh()

    def _button(self, text: str, action: Any) -> KButton:
        button = KButton(text=self.tr(text), kind="secondary", font_size=20, height=52)
        button.bind(on_release=lambda *_: action())
        return button

    def _show(self, tab: Any) -> None:
        self.flow.drivers.show(tab.index)
        self.refresh_soon()

    def add(self) -> None:
        self.flow.drivers.add()
        self.refresh_soon()

    def remove(self) -> None:
        self.flow.drivers.remove()
        self.refresh_soon()

    def copy_owner(self) -> None:
        self.flow.drivers.copy_owner(self.flow.owner.form)
        self.refresh_soon()

    def toggle_unlimited(self) -> None:
        self.flow.drivers.unlimited = not self.flow.drivers.unlimited
        self.refresh_soon()

    def next(self) -> None:
        self.advance(lambda: self.flow.drivers.entries(self.flow.earliest()), "period")


load_kv(__file__)
