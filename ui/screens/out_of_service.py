"""«Киоск временно не работает»: nothing can be bought; a technician's hidden corner still works."""

from __future__ import annotations

from ui.presenters.out_of_service import PHONE_LABEL
from ui.screens.base import KioskScreen, TechnicianCorner, load_kv


class OutOfServiceScreen(TechnicianCorner, KioskScreen):
    """Shows ``app.out_of_service`` to the customer (in the current language)."""

    def refresh(self) -> None:
        state = self.app.out_of_service
        if state is None:
            return
        self.ids.title.text = self.tr(state.title)
        self.ids.message.text = self.tr(state.message)
        self.ids.phone.text = state.phone_line.replace(PHONE_LABEL, self.tr(PHONE_LABEL))


load_kv(__file__)
