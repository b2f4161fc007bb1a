"""Done: take the policy and the memo; a QR code to check the policy."""

from __future__ import annotations

from ui.screens.base import KioskScreen, load_kv
from ui.widgets.qr import qr_texture


class DoneScreen(KioskScreen):
    """The policy number, what happened to the money, and the check QR."""

    def refresh(self) -> None:
        view = self.app.outcome_view
        if view is None or view.policy is None:
            return
        self.ids.policy.text = f"{self.tr('Полис')} {view.policy}"
        self.ids.money.text = self.tr(view.money)
        link = self.flow.check_link(view.policy)
        self.ids.qr.texture = qr_texture(link)
        self.ids.link.text = link


load_kv(__file__)
