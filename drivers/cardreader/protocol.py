"""The ``ServiceCardReader`` Protocol and the values it hands out.

A reader watches its slots from a background thread and reports card insertions and removals through
one callback. Asking the card something (``query_card``) is a blocking exchange of APDUs: call it from
the watcher callback or a worker thread, never from the UI thread.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["CardAnswer", "CardEvent", "CardEventKind", "EventCallback", "ReaderStatus", "ServiceCardReader"]


class CardEventKind(enum.Enum):
    """What happened in a slot."""

    INSERTED = "inserted"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class CardEvent:
    """A card came or went. ``atr`` is empty for removals; ``at`` is ``time.monotonic()``."""

    kind: CardEventKind
    reader: str
    atr: bytes = b""
    at: float = 0.0


EventCallback = Callable[[CardEvent], None]


@dataclass(frozen=True, slots=True)
class CardAnswer:
    """What a service card said to a challenge: its id and its MAC over (id, challenge).

    Nothing here is trusted until the kiosk has checked ``response`` with the card's key.
    """

    card_id: str
    challenge: bytes
    response: bytes
    reader: str


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """A snapshot for diagnostics: is the reader stack usable, and what does it see."""

    backend: str
    #: the PC/SC service (or the simulator) answers
    service: bool
    #: the watcher thread is running
    watching: bool
    #: readers the kiosk uses (after the name filter)
    readers: tuple[str, ...] = ()
    #: readers present but ignored (virtual readers, other name prefixes)
    ignored: tuple[str, ...] = ()
    #: readers that hold a card right now
    cards: tuple[str, ...] = ()
    #: how often the watcher had to re-establish its PC/SC context
    reconnects: int = 0
    last_error: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Usable: the service answers, the watcher runs and at least one reader is there."""
        return self.service and self.watching and bool(self.readers)

    def problems(self) -> list[str]:
        """Plain English reasons why the reader is not usable (empty when ``ok``)."""
        reasons = []
        if not self.watching:
            reasons.append("card watcher is not running")
        if not self.service:
            reasons.append(f"card service unavailable ({self.last_error or 'no answer'})")
        elif not self.readers:
            ignored = f"; ignored: {', '.join(self.ignored)}" if self.ignored else ""
            reasons.append(f"no card reader connected{ignored}")
        return reasons


@runtime_checkable
class ServiceCardReader(Protocol):
    """A smart-card reader for technicians' service cards."""

    def start(self, on_event: EventCallback) -> None:
        """Start watching the slots; ``on_event`` is called from the watcher thread.

        Cards already present when watching starts are reported as inserted.
        """
        ...

    def stop(self) -> None:
        """Stop watching (idempotent). No callback runs after this returns."""
        ...

    def query_card(self, challenge: bytes, reader: str | None = None) -> CardAnswer:
        """Select our applet on the card in ``reader`` (default: the first card present), read its id
        and let it answer ``challenge``. Blocking; raises ``CardReaderError`` subclasses."""
        ...

    def status(self) -> ReaderStatus:
        """What the reader stack looks like now (never raises)."""
        ...

    def close(self) -> None:
        """Stop and release everything."""
        ...
