"""Reader URLs, the lazy backend import, and the in-process simulator over its socket."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from drivers.cardreader import (
    CardEventKind,
    NoCardError,
    ReaderURLError,
    ServiceCardReader,
    open_reader,
    parse_url,
)
from drivers.cardreader.recorder import RecordingReader
from drivers.cardreader.simcard import SimulatedServiceCard
from drivers.cardreader.simulator import SimulatedReader


@pytest.mark.parametrize(
    "url",
    [
        "pcsc://",
        "pcsc:",
        "pcsc://?reader=ACS%20ACR39U",
        "pcsc://?allow_virtual=yes&poll=0.2&backoff_max=10",
        "sim://cardreader",
        "sim://cardreader?name=Bench",
    ],
)
def test_valid_urls_parse(url: str) -> None:
    assert parse_url(url).text == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pcsc://reader1", "names no host"),
        ("pcsc://?reder=ACS", "unknown parameter"),
        ("pcsc://?reader=A&reader=B", "given twice"),
        ("sim://printer", "sim://cardreader"),
        ("nfc://", "unknown card reader URL scheme"),
    ],
)
def test_invalid_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ReaderURLError, match=message):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "message"), [("pcsc://?poll=100", "between"), ("pcsc://?allow_virtual=maybe", "yes/no")]
)
def test_bad_option_values_are_refused_when_opening(url: str, message: str) -> None:
    with pytest.raises(ReaderURLError, match=message):
        open_reader(url)


def test_importing_the_package_does_not_import_pyscard() -> None:
    code = "import sys, drivers.cardreader as c; c.open_reader('sim://cardreader'); print('smartcard' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


def test_every_implementation_satisfies_the_protocol() -> None:
    assert isinstance(SimulatedReader(), ServiceCardReader)
    assert isinstance(RecordingReader(), ServiceCardReader)


def test_the_simulator_reports_cards_from_its_own_thread_and_reads_them_over_its_socket() -> None:
    reader = open_reader("sim://cardreader?name=Bench 00 00")
    assert isinstance(reader, SimulatedReader)
    seen: list[tuple[CardEventKind, str, bool]] = []
    done = threading.Event()

    def on_event(event):  # type: ignore[no-untyped-def]
        seen.append((event.kind, event.reader, threading.current_thread() is threading.main_thread()))
        if event.kind is CardEventKind.REMOVED:
            done.set()

    reader.start(on_event)
    card = SimulatedServiceCard("TECH-0042", bytes(32))
    reader.insert(card)
    answer = reader.query_card(bytes(16))
    reader.remove()
    assert done.wait(2)
    reader.close()

    assert answer.card_id == "TECH-0042" and answer.reader == "Bench 00 00"
    assert seen == [(CardEventKind.INSERTED, "Bench 00 00", False), (CardEventKind.REMOVED, "Bench 00 00", False)]
    assert card.commands[0][:2] == b"\x00\xa4"
    with pytest.raises(NoCardError):
        reader.query_card(bytes(16))
    assert reader.status().cards == () and not reader.status().watching
