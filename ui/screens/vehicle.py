"""Vehicle: category, plate, VIN or body number, make and model, year, power, purpose, document."""

from __future__ import annotations

from ui.presenters.form import Form
from ui.screens.base import FormScreen, load_kv


class VehicleScreen(FormScreen):
    """The first data step."""

    def form(self) -> Form:
        form: Form = self.flow.vehicle.form
        return form

    def next(self) -> None:
        self.advance(self.flow.vehicle.entry, "owner")


load_kv(__file__)
