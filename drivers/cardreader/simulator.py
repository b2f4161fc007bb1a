"""``sim://cardreader``: an in-process card reader whose cards sit behind a real socket.

What it simulates, exactly: one reader slot. ``insert(card)`` connects a card (normally a
``SimulatedServiceCard``) through a ``socket.socketpair`` speaking the vpcd protocol — the same frames
vsmartcard's virtual reader sends to a card — and ``remove()`` closes the card's end, as pulling the
card does. ``query_card`` runs the real applet client (SELECT, GET DATA, INTERNAL AUTHENTICATE) over
that socket and resets the card afterwards, like the PC/SC backend. Events reach the callback from a
dispatcher thread, never from the thread that called ``insert``/``remove``.

What it does not simulate: pcscd, reader hot-plug and service restarts (the PC/SC backend's
integration tests cover those with a real pcscd). Cards are inserted only through this Python API:
nothing outside the process can put a card into it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass

from drivers.cardreader.applet import read_service_card
from drivers.cardreader.errors import CardReaderError, CardRemovedError, NoCardError
from drivers.cardreader.protocol import CardAnswer, CardEvent, CardEventKind, EventCallback, ReaderStatus
from drivers.cardreader.url import ReaderURL
from drivers.cardreader.vpcd import CTRL_ON, CTRL_RESET, VpcdCard, VpcdHost, serve_card

__all__ = ["DEFAULT_NAME", "SimulatedReader", "open_url"]

log = logging.getLogger(__name__)

DEFAULT_NAME = "Simulated Reader 00 00"
_STOP = object()


@dataclass
class _Slot:
    card: VpcdCard
    host: VpcdHost
    card_sock: socket.socket
    thread: threading.Thread
    atr: bytes


class SimulatedReader:
    """A ``ServiceCardReader`` with one slot; see the module docstring."""

    backend = "sim"

    def __init__(self, name: str = DEFAULT_NAME) -> None:
        if not name or not name.isprintable():
            raise ValueError("a reader name is a non-empty printable string")
        self.name = name
        self._lock = threading.RLock()
        self._slot: _Slot | None = None
        self._callback: EventCallback | None = None
        self._events: queue.Queue[object] = queue.Queue()
        self._dispatcher: threading.Thread | None = None
        self._last_error: str | None = None

    # --- the slot, driven by tests or a developer harness ------------------------------------
    def insert(self, card: VpcdCard) -> None:
        """Put a card in the slot (power on, read its ATR) and report it."""
        with self._lock:
            if self._slot is not None:
                raise CardReaderError("the simulated slot already holds a card")
            host_sock, card_sock = socket.socketpair()
            thread = threading.Thread(target=serve_card, args=(card_sock, card), name="sim-card", daemon=True)
            thread.start()
            host = VpcdHost(host_sock)
            host.control(CTRL_ON)
            atr = host.atr()
            self._slot = _Slot(card, host, card_sock, thread, atr)
            self._emit(CardEventKind.INSERTED, atr)

    def remove(self) -> None:
        """Pull the card out (no-op on an empty slot)."""
        with self._lock:
            slot, self._slot = self._slot, None
            if slot is None:
                return
            with contextlib.suppress(OSError):
                slot.card_sock.shutdown(socket.SHUT_RDWR)
            slot.card_sock.close()
            slot.thread.join(timeout=2)
            slot.host.close()
            self._emit(CardEventKind.REMOVED)

    @property
    def card_present(self) -> bool:
        """A card is in the slot."""
        return self._slot is not None

    # --- ServiceCardReader ----------------------------------------------------------------------
    def start(self, on_event: EventCallback) -> None:
        """Report events to ``on_event`` from the dispatcher thread; a card already in is reported."""
        with self._lock:
            if self._dispatcher is not None:
                raise CardReaderError("the reader is already started")
            self._callback = on_event
            self._dispatcher = threading.Thread(target=self._dispatch, name="sim-cardreader-events", daemon=True)
            self._dispatcher.start()
            if self._slot is not None:
                self._emit(CardEventKind.INSERTED, self._slot.atr)

    def stop(self) -> None:
        """Stop reporting; no callback runs after this returns."""
        with self._lock:
            dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is None:
            return
        self._events.put(_STOP)
        if dispatcher is not threading.current_thread():
            dispatcher.join(timeout=5)
        self._callback = None

    def query_card(self, challenge: bytes, reader: str | None = None) -> CardAnswer:
        """Run the applet exchange with the card in the slot, then reset it."""
        with self._lock:
            slot = self._slot
            if reader not in (None, self.name) or slot is None:
                raise NoCardError(f"no card in {reader or self.name}")
            try:
                card_id, response = read_service_card(slot.host.transmit, challenge)
                slot.host.control(CTRL_RESET)
            except CardRemovedError as exc:
                self._last_error = str(exc)
                self.remove()
                raise
            except CardReaderError as exc:
                self._last_error = str(exc)
                raise
            return CardAnswer(card_id, bytes(challenge), response, self.name)

    def status(self) -> ReaderStatus:
        """The simulated stack is always up; the slot holds a card or not."""
        dispatcher = self._dispatcher
        return ReaderStatus(
            backend=self.backend,
            service=True,
            watching=dispatcher is not None and dispatcher.is_alive(),
            readers=(self.name,),
            cards=(self.name,) if self._slot is not None else (),
            last_error=self._last_error,
        )

    def close(self) -> None:
        """Remove the card and stop."""
        self.remove()
        self.stop()

    # --- internals ---------------------------------------------------------------------------------
    def _emit(self, kind: CardEventKind, atr: bytes = b"") -> None:
        if self._dispatcher is not None:
            self._events.put(CardEvent(kind, self.name, atr, time.monotonic()))

    def _dispatch(self) -> None:
        while True:
            item = self._events.get()
            if item is _STOP:
                return
            callback = self._callback
            if callback is not None and isinstance(item, CardEvent):
                try:
                    callback(item)
                except Exception:
                    log.exception("card event callback failed")


def open_url(url: ReaderURL, **kw: object) -> SimulatedReader:
    """Backend entry point for ``sim://cardreader[?name=...]``."""
    name = kw.pop("name", None) or url.param("name") or DEFAULT_NAME
    if kw:
        raise TypeError(f"sim://cardreader takes no options {sorted(kw)}")
    return SimulatedReader(str(name))
