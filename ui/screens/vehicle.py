"""Vehicle: category, plate, VIN or body number, make and model, year, power, purpose, document."""

from __future__ import annotations

from kiosk.validation import FieldError
from ui.presenters.form import Form
from ui.screens.base import FormScreen, load_kv


class VehicleScreen(FormScreen):
    """The first data step."""

    def form(self) -> Form:
        form: Form = self.flow.vehicle.form
        return form

    def next(self) -> None:
        self.clear_message()
        try:
            self.flow.vehicle.entry()
        except FieldError as exc:
            self.show_error(exc)
            return
        self.app.go("owner")


load_kv(__file__)
