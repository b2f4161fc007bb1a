"""``ServiceMode``: the service card reader and ``ServiceAccess`` put together for the UI.

The reader's watcher thread reports a card; ``ServiceMode`` runs the challenge–response right there
(a blocking APDU exchange: it must never run on the UI thread) and tells ``on_change`` the new
``AccessState``. The UI wraps ``on_change`` with Kivy's ``@mainthread`` and calls ``enter_pin``,
``touch``, ``check_idle`` (from a Clock interval) and ``logout``. Diagnostics ask ``reader_status``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.cardreader import CardEvent, CardEventKind, CardReaderError, ReaderStatus, ServiceCardReader
from kiosk.service_access import AccessState, PinResult, ServiceAccess

__all__ = ["ServiceMode"]

log = logging.getLogger(__name__)


class ServiceMode:
    """See the module docstring."""

    def __init__(
        self,
        reader: ServiceCardReader,
        access: ServiceAccess,
        on_change: Callable[[AccessState], None] | None = None,
    ) -> None:
        self.reader = reader
        self.access = access
        self._on_change = on_change or (lambda state: None)

    @property
    def state(self) -> AccessState:
        """The current access state."""
        return self.access.state

    def start(self) -> None:
        """Start watching for service cards."""
        self.reader.start(self._on_card)

    def stop(self) -> None:
        """Stop watching; an open session is closed (and journaled)."""
        self.reader.stop()
        self._changed(self.access.state, self.access.shutdown)

    def enter_pin(self, pin: str) -> PinResult:
        """The technician typed a PIN."""
        before = self.access.state
        result = self.access.enter_pin(pin)
        self._notify(before)
        return result

    def touch(self) -> None:
        """The technician did something (resets the idle timer)."""
        self.access.touch()

    def check_idle(self) -> AccessState:
        """Close an idle session; call it every few seconds."""
        return self._changed(self.access.state, self.access.check_idle)

    def logout(self) -> AccessState:
        """The technician leaves."""
        return self._changed(self.access.state, self.access.logout)

    def reader_status(self) -> ReaderStatus:
        """The reader stack's status, for diagnostics."""
        return self.reader.status()

    def _on_card(self, event: CardEvent) -> None:
        before = self.access.state
        if event.kind is CardEventKind.REMOVED:
            self.access.card_removed(event.reader)
            self._notify(before)
            return
        challenge = self.access.begin(event.reader)
        self._notify(before)
        checking = self.access.state
        try:
            answer = self.reader.query_card(challenge, event.reader)
        except CardReaderError as exc:
            log.info("service card in %s could not be read: %s", event.reader, exc)
            self.access.unreadable(str(exc))
        else:
            self.access.present(answer)
        self._notify(checking)

    def _changed(self, before: AccessState, action: Callable[[], object]) -> AccessState:
        action()
        return self._notify(before)

    def _notify(self, before: AccessState) -> AccessState:
        after = self.access.state
        if after != before:
            try:
                self._on_change(after)
            except Exception:
                log.exception("service mode listener failed")
        return after
