"""Payment: the amount, the terminal's own texts as they come, a countdown, "Отмена"."""

from __future__ import annotations

import time
from typing import Any

from kivy.clock import Clock, mainthread

from kiosk.money import rub
from kiosk.sale.states import SaleState
from ui.presenters.payment import PaymentWatch
from ui.presenters.sale import ISSUING
from ui.screens.base import KioskScreen, load_kv


class PaymentScreen(KioskScreen):
    """Started by the app with ``begin()``; the payment itself runs in the app's worker."""

    def on_kv_post(self, _base: Any) -> None:
        self.watch = PaymentWatch(self.app.settings.payment_seconds)
        self._tick_event: Any = None

    def begin(self) -> None:
        """A payment attempt starts now."""
        self.watch.start(time.monotonic())
        self.ids.cancel.disabled = False
        if self._tick_event is None:
            self._tick_event = Clock.schedule_interval(self._tick, 0.25)
        self.refresh()

    def end(self) -> None:
        """The payment call returned."""
        if self._tick_event is not None:
            self._tick_event.cancel()
            self._tick_event = None

    def on_leave(self, *_args: Any) -> None:
        self.end()

    @mainthread  # type: ignore[misc]
    def terminal_text(self, text: str) -> None:
        """The terminal said something for the customer (called from the payment worker)."""
        self.watch.add(text)
        self.refresh_soon()

    def _tick(self, _dt: float) -> None:
        now = time.monotonic()
        if self.watch.expired(now):
            self.cancel_payment()
        state = self.flow.progress()
        if state in ISSUING or state is SaleState.AUTHORISED:
            self.app.go("issuing")
            return
        self.ids.countdown.text = f"{self.tr('Осталось')}: {self.watch.left(now)} {self.tr('с')}"

    def refresh(self) -> None:
        premium = self.flow.quote.quote.premium if self.flow.quote else None
        self.ids.amount.text = rub(premium) if premium is not None else ""
        self.ids.terminal.text = self.watch.current
        self.ids.countdown.text = f"{self.tr('Осталось')}: {self.watch.left(time.monotonic())} {self.tr('с')}"

    def cancel_payment(self) -> None:
        """The customer pressed "Отмена" (or the time ran out): ask the terminal to abort."""
        self.ids.cancel.disabled = True
        self.watch.add(self.tr("Отменяем оплату…"))
        self.refresh_soon()
        self.flow.cancel_payment()


load_kv(__file__)
