"""«Киоск временно не работает»: nothing can be bought; a technician's hidden corner still works."""

from __future__ import annotations

from ui.screens.base import KioskScreen, TechnicianCorner, load_kv


class OutOfServiceScreen(TechnicianCorner, KioskScreen):
    """Shows ``app.out_of_service`` to the customer (in the current language)."""

    def refresh(self) -> None:
        state = self.app.out_of_service
        if state is None:
            return
        self.ids.title.text = self.tr(state.title)
        self.ids.message.text = self.tr(state.message)


load_kv(__file__)
