"""The service card reader: ``ServiceCardReader`` Protocol, our applet's wire spec, ``open_reader(url)``.

Importing this package does not import pyscard: backends are loaded by URL scheme with importlib
(pyserial's ``serial_for_url`` style), so the kiosk core stays free of device libraries.

URL grammar::

    pcsc://                          every PC/SC reader except vsmartcard's "Virtual PCD*"
    pcsc://?reader=PREFIX            readers whose name starts with PREFIX (URL-encode spaces: %20);
                                     a PREFIX starting "Virtual PCD" allows that virtual reader
    pcsc://?allow_virtual=1          also virtual readers (tests only)
           &poll=0.5                 status-change wait, seconds (0.05-10)
           &backoff_max=5            longest pause between reconnection attempts, seconds
    sim://cardreader[?name=NAME]     in-process simulator (``drivers.cardreader.simulator``)

Implementations: ``pcsc.PcscReader`` (pyscard), ``simulator.SimulatedReader``, and
``recorder.RecordingReader`` (a synchronous fake for unit tests).
"""

from __future__ import annotations

import importlib
from typing import Any

from drivers.cardreader.applet import AID, card_mac, describe_sw, validate_card_id, validate_challenge
from drivers.cardreader.errors import (
    CardCommunicationError,
    CardReaderError,
    CardRefusedError,
    CardRemovedError,
    NoCardError,
    ReaderUnavailableError,
    ReaderURLError,
)
from drivers.cardreader.protocol import (
    CardAnswer,
    CardEvent,
    CardEventKind,
    EventCallback,
    ReaderStatus,
    ServiceCardReader,
)
from drivers.cardreader.url import ReaderURL, parse_url

__all__ = [
    "AID",
    "BACKENDS",
    "CardAnswer",
    "CardCommunicationError",
    "CardEvent",
    "CardEventKind",
    "CardReaderError",
    "CardRefusedError",
    "CardRemovedError",
    "EventCallback",
    "NoCardError",
    "ReaderStatus",
    "ReaderURL",
    "ReaderURLError",
    "ReaderUnavailableError",
    "ServiceCardReader",
    "card_mac",
    "describe_sw",
    "open_reader",
    "parse_url",
    "validate_card_id",
    "validate_challenge",
]

# URL scheme -> backend module (each exposes ``open_url(url: ReaderURL, **kw) -> ServiceCardReader``).
BACKENDS: dict[str, str] = {
    "pcsc": "drivers.cardreader.pcsc",
    "sim": "drivers.cardreader.simulator",
}


def open_reader(url: str, **kw: Any) -> ServiceCardReader:
    """Open the card reader a URL names; the backend module (and pyscard) is imported only now."""
    parsed = parse_url(url)
    backend = importlib.import_module(BACKENDS[parsed.scheme])
    reader: ServiceCardReader = backend.open_url(parsed, **kw)
    return reader
