"""Owner and policyholder: name, birth date, passport, address → territory, phone, e-mail."""

from __future__ import annotations

from kivy.properties import BooleanProperty

from ui.presenters.form import Form
from ui.screens.base import FormScreen, load_kv


class OwnerScreen(FormScreen):
    """The second data step; the policyholder's fields appear when it is another person."""

    holder_same = BooleanProperty(True)

    def form(self) -> Form:
        form: Form = self.flow.owner.form
        return form

    def visible(self) -> list[str]:
        names: list[str] = self.flow.owner.visible
        return names

    def refresh(self) -> None:
        self.holder_same = self.flow.owner.holder_is_owner
        super().refresh()

    def toggle_holder(self) -> None:
        self.flow.owner.set_holder_is_owner(not self.flow.owner.holder_is_owner)
        self.refresh_soon()

    def picked(self, name: str, value: str) -> None:
        if name == "owner.region":
            self.flow.owner.pick_region(value)
            self.refresh_soon()
            return
        super().picked(name, value)

    def next(self) -> None:
        self.advance(self.flow.owner.people, "drivers")


load_kv(__file__)
