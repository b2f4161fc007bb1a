"""The PC/SC watcher and card exchange against a scripted fake of pyscard's ``smartcard.scard``.

GIVEN a fake PC/SC service whose readers, cards and failures the test controls,
THEN the watcher reports insertions and removals, survives a lost service, ignores virtual readers,
and ``query_card`` maps PC/SC errors onto our exception tree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from drivers.cardreader import (
    CardEvent,
    CardEventKind,
    CardRemovedError,
    NoCardError,
    ReaderUnavailableError,
    open_reader,
)
from drivers.cardreader import pcsc_codes as pc
from drivers.cardreader.pcsc import PcscReader, ReaderFilter
from drivers.cardreader.simcard import SimulatedServiceCard


class FakeScard:
    """Enough of ``smartcard.scard`` for the reader: state changes are driven by the test."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.readers: dict[str, SimulatedServiceCard | None] = {}
        self.counters: dict[str, int] = {}
        self.service = True
        self.contexts = 0
        self.released: list[int] = []
        self.version = 0
        self.transmit_error: int | None = None
        self.dispositions: list[int] = []

    # test controls
    def plug(self, name: str) -> None:
        with self.lock:
            self.readers[name] = None
            self.counters[name] = 0
            self._changed()

    def insert(self, name: str, card: SimulatedServiceCard) -> None:
        with self.lock:
            self.readers[name] = card
            self.counters[name] += 1
            self._changed()

    def remove(self, name: str) -> None:
        with self.lock:
            self.readers[name] = None
            self.counters[name] += 1
            self._changed()

    def crash(self) -> None:
        with self.lock:
            self.service = False
            self._changed()

    def restart(self) -> None:
        with self.lock:
            self.service = True
            self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.lock.notify_all()

    def _state(self, name: str) -> int:
        card = self.readers[name]
        bits = pc.SCARD_STATE_PRESENT if card is not None else pc.SCARD_STATE_EMPTY
        return bits | self.counters[name] << 16

    # the API
    def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
        with self.lock:
            if not self.service:
                return pc.SCARD_E_NO_SERVICE, 0
            self.contexts += 1
            return pc.SCARD_S_SUCCESS, 1000 + self.contexts

    def SCardReleaseContext(self, context: int) -> int:
        self.released.append(context)
        return pc.SCARD_S_SUCCESS

    def SCardCancel(self, context: int) -> int:
        with self.lock:
            self._changed()
        return pc.SCARD_S_SUCCESS

    def SCardListReaders(self, context: int, groups: list[str]) -> tuple[int, list[str]]:
        with self.lock:
            if not self.service:
                return pc.SCARD_F_COMM_ERROR, []
            if not self.readers:
                return pc.SCARD_E_NO_READERS_AVAILABLE, []
            return pc.SCARD_S_SUCCESS, list(self.readers)

    def SCardGetStatusChange(self, context: int, timeout_ms: int, states: list[tuple[str, int]]) -> Any:
        deadline = time.monotonic() + timeout_ms / 1000
        with self.lock:
            while True:
                if not self.service:
                    return pc.SCARD_F_COMM_ERROR, []
                out, changed = [], False
                for name, known in states:
                    if name == pc.PNP_NOTIFICATION:
                        now = len(self.readers) << 16
                        flag = pc.SCARD_STATE_CHANGED if now != known & ~pc.SCARD_STATE_CHANGED else 0
                        out.append((name, now | flag, []))
                    elif name not in self.readers:
                        out.append((name, pc.SCARD_STATE_UNKNOWN | pc.SCARD_STATE_CHANGED | pc.SCARD_STATE_IGNORE, []))
                        flag = pc.SCARD_STATE_CHANGED
                    else:
                        now = self._state(name)
                        flag = pc.SCARD_STATE_CHANGED if now != known else 0
                        card = self.readers[name]
                        out.append((name, now | flag, list(card.atr) if card else []))
                    changed = changed or bool(flag)
                if changed or timeout_ms == 0:
                    return pc.SCARD_S_SUCCESS, out
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return pc.SCARD_E_TIMEOUT, states
                self.lock.wait(remaining)

    def SCardConnect(self, context: int, name: str, share: int, protocols: int) -> tuple[int, int, int]:
        card = self.readers.get(name)
        if card is None:
            return pc.SCARD_E_NO_SMARTCARD, 0, 0
        card.reset()
        return pc.SCARD_S_SUCCESS, 7, pc.SCARD_PROTOCOL_T1

    def SCardTransmit(self, card: int, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        if self.transmit_error is not None:
            return self.transmit_error, []
        present = [c for c in self.readers.values() if c is not None]
        return pc.SCARD_S_SUCCESS, list(present[0].process(bytes(apdu)))

    def SCardDisconnect(self, card: int, disposition: int) -> int:
        self.dispositions.append(disposition)
        return pc.SCARD_S_SUCCESS


class Events:
    def __init__(self) -> None:
        self.items: list[CardEvent] = []
        self.cond = threading.Condition()

    def __call__(self, event: CardEvent) -> None:
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait(self, count: int, timeout: float = 3.0) -> list[tuple[CardEventKind, str]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= count, timeout), self.items
            return [(e.kind, e.reader) for e in self.items]


READER = "ACS ACR39U ICC Reader 00 00"
CARD = SimulatedServiceCard("TECH-0042", bytes(32))


@pytest.fixture
def scard() -> FakeScard:
    return FakeScard()


@pytest.fixture
def watching(scard: FakeScard) -> Callable[..., tuple[PcscReader, Events]]:
    started: list[PcscReader] = []

    def start(**kw: Any) -> tuple[PcscReader, Events]:
        reader = PcscReader(api=scard, poll=0.05, backoff=(0.01, 0.05), **kw)
        events = Events()
        reader.start(events)
        started.append(reader)
        return reader, events

    yield start  # type: ignore[misc]
    for reader in started:
        reader.stop()


def test_a_card_already_in_is_reported_and_its_removal_too(scard: FakeScard, watching: Any) -> None:
    scard.plug(READER)
    scard.insert(READER, CARD)
    _reader, events = watching()

    assert events.wait(1) == [(CardEventKind.INSERTED, READER)]
    scard.remove(READER)
    assert events.wait(2)[1] == (CardEventKind.REMOVED, READER)
    assert events.items[0].atr == CARD.atr


def test_a_reader_plugged_in_later_is_watched(scard: FakeScard, watching: Any) -> None:
    reader, events = watching()
    scard.plug(READER)
    scard.insert(READER, CARD)

    assert events.wait(1) == [(CardEventKind.INSERTED, READER)]
    assert reader.status().readers == (READER,)


def test_a_reader_unplugged_with_a_card_reports_the_card_removed(scard: FakeScard, watching: Any) -> None:
    scard.plug(READER)
    scard.insert(READER, CARD)
    _reader, events = watching()
    events.wait(1)

    with scard.lock:
        del scard.readers[READER]
        scard._changed()

    assert events.wait(2)[1] == (CardEventKind.REMOVED, READER)


def test_a_lost_service_removes_cards_and_the_watcher_reconnects(scard: FakeScard, watching: Any) -> None:
    scard.plug(READER)
    scard.insert(READER, CARD)
    reader, events = watching()
    events.wait(1)

    scard.crash()
    assert events.wait(2)[1] == (CardEventKind.REMOVED, READER)
    time.sleep(0.1)
    assert not reader.status().service
    scard.restart()

    assert events.wait(3)[2] == (CardEventKind.INSERTED, READER)
    status = reader.status()
    assert status.service and status.watching and status.reconnects >= 1
    assert "SCARD_E_NO_SERVICE" in (status.last_error or ""), "the last failure: re-establishing while down"
    assert scard.released, "every lost context is released"


def test_a_card_swapped_between_two_polls_ends_the_first_cards_presence(scard: FakeScard, watching: Any) -> None:
    scard.plug(READER)
    scard.insert(READER, CARD)
    _reader, events = watching()
    events.wait(1)

    with scard.lock:  # removal and insertion seen in one poll: still "present", counter moved by 2
        scard.counters[READER] += 2
        scard._changed()

    assert events.wait(3)[1:] == [(CardEventKind.REMOVED, READER), (CardEventKind.INSERTED, READER)]


def test_virtual_readers_are_ignored_and_shown_as_ignored(scard: FakeScard, watching: Any) -> None:
    scard.plug("Virtual PCD 00 00")
    scard.insert("Virtual PCD 00 00", CARD)
    reader, events = watching()
    time.sleep(0.2)

    assert events.items == []
    assert reader.status().ignored == ("Virtual PCD 00 00",)
    assert reader.status().problems() == ["no card reader connected; ignored: Virtual PCD 00 00"]


@pytest.mark.parametrize(
    ("prefix", "allow_virtual", "name", "accepted"),
    [
        (None, False, "ACS ACR39U 00 00", True),
        (None, False, "Virtual PCD 00 00", False),
        (None, True, "Virtual PCD 00 00", True),
        ("Virtual PCD", False, "Virtual PCD 00 01", True),
        ("ACS", False, "Virtual PCD 00 00", False),
        ("ACS", False, "Gemalto 00 00", False),
    ],
)
def test_reader_filter(prefix: str | None, allow_virtual: bool, name: str, accepted: bool) -> None:
    assert ReaderFilter(prefix, allow_virtual).accepts(name) is accepted


def test_query_card_runs_the_exchange_on_the_card_present(scard: FakeScard) -> None:
    scard.plug(READER)
    scard.insert(READER, CARD)

    answer = PcscReader(api=scard).query_card(bytes(16))

    assert (answer.card_id, answer.reader, len(answer.response)) == ("TECH-0042", READER, 32)
    assert scard.dispositions == [pc.SCARD_RESET_CARD], "the card is reset after the exchange"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (pc.SCARD_W_REMOVED_CARD, CardRemovedError),
        (pc.SCARD_E_NO_SERVICE, ReaderUnavailableError),
    ],
)
def test_pcsc_errors_map_onto_our_exceptions(scard: FakeScard, code: int, error: type[Exception]) -> None:
    scard.plug(READER)
    scard.insert(READER, CARD)
    scard.transmit_error = code

    with pytest.raises(error, match=pc.RESULT_CODES[code][0]):
        PcscReader(api=scard).query_card(bytes(16))


def test_query_without_a_card_or_a_reader(scard: FakeScard) -> None:
    with pytest.raises(ReaderUnavailableError, match="no card reader"):
        PcscReader(api=scard).query_card(bytes(16))
    scard.plug(READER)
    with pytest.raises(NoCardError):
        PcscReader(api=scard).query_card(bytes(16))
    with pytest.raises(NoCardError, match="not used by this kiosk"):
        PcscReader(api=scard).query_card(bytes(16), reader="Virtual PCD 00 00")


def test_open_reader_takes_options_from_the_url_and_keywords(scard: FakeScard) -> None:
    reader = open_reader("pcsc://?reader=ACS&poll=0.2", api=scard, allow_virtual=True)

    assert isinstance(reader, PcscReader)
    assert reader.filter == ReaderFilter("ACS", True)
