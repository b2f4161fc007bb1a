"""``RecordingReader``: a synchronous fake ``ServiceCardReader`` for unit tests of the services.

It records every call, delivers events in the caller's thread (deterministic tests), and answers
``query_card`` by running the real applet client straight against the inserted card's ``process``
(no socket). ``fail_next(exc)`` makes the next query raise instead.
"""

from __future__ import annotations

import time

from drivers.cardreader.applet import read_service_card, split_response
from drivers.cardreader.errors import CardReaderError, NoCardError
from drivers.cardreader.protocol import CardAnswer, CardEvent, CardEventKind, EventCallback, ReaderStatus
from drivers.cardreader.vpcd import VpcdCard

__all__ = ["RecordingReader"]


class RecordingReader:
    """See the module docstring. ``calls`` lists ``(method, *arguments)`` tuples in order."""

    backend = "recorder"

    def __init__(self, name: str = "Recording Reader 00 00") -> None:
        self.name = name
        self.calls: list[tuple[object, ...]] = []
        self.card: VpcdCard | None = None
        self._callback: EventCallback | None = None
        self._failures: list[CardReaderError] = []

    def insert(self, card: VpcdCard) -> None:
        """Put a card in and report it (in this thread, if started)."""
        if self.card is not None:
            raise CardReaderError("the recording reader already holds a card")
        self.card = card
        card.reset()
        self._emit(CardEventKind.INSERTED, card.atr)

    def remove(self) -> None:
        """Take the card out and report it."""
        if self.card is not None:
            self.card = None
            self._emit(CardEventKind.REMOVED)

    def fail_next(self, error: CardReaderError) -> None:
        """The next ``query_card`` raises ``error``."""
        self._failures.append(error)

    def start(self, on_event: EventCallback) -> None:
        """Record; report a card already in."""
        self.calls.append(("start",))
        self._callback = on_event
        if self.card is not None:
            self._emit(CardEventKind.INSERTED, self.card.atr)

    def stop(self) -> None:
        """Record; no more events."""
        self.calls.append(("stop",))
        self._callback = None

    def query_card(self, challenge: bytes, reader: str | None = None) -> CardAnswer:
        """Record, then answer from the card (or raise the scripted failure)."""
        self.calls.append(("query_card", bytes(challenge), reader))
        if self._failures:
            raise self._failures.pop(0)
        card = self.card
        if card is None or reader not in (None, self.name):
            raise NoCardError(f"no card in {reader or self.name}")

        card_id, response = read_service_card(lambda apdu: split_response(card.process(apdu)), challenge)
        card.reset()
        return CardAnswer(card_id, bytes(challenge), response, self.name)

    def status(self) -> ReaderStatus:
        """Record; always up, one reader."""
        self.calls.append(("status",))
        return ReaderStatus(
            backend=self.backend,
            service=True,
            watching=self._callback is not None,
            readers=(self.name,),
            cards=(self.name,) if self.card is not None else (),
        )

    def close(self) -> None:
        """Record and stop."""
        self.calls.append(("close",))
        self._callback = None

    def _emit(self, kind: CardEventKind, atr: bytes = b"") -> None:
        if self._callback is not None:
            self._callback(CardEvent(kind, self.name, atr, time.monotonic()))
