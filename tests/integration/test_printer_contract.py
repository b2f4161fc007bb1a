"""The ReceiptPrinter contract: runs on the simulator, or on real hardware with --device-url.

    ./scripts/test tests/integration/test_printer_contract.py --device-url 'escpos+usb://0x0dd4:0x0205?profile=custom-vkp80'

Against hardware it prints a test page and a letter (about 40 cm of paper); load paper and close
the cover first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from drivers.printer import ReceiptPrinter, StatusReport, open_printer
from kiosk.documents.samples import sample_document

pytestmark = pytest.mark.integration


@pytest.fixture
def printer(device_url: str | None) -> Iterator[ReceiptPrinter]:
    if device_url is not None and not device_url.startswith(("escpos+", "sim://printer")):
        pytest.skip(f"--device-url {device_url} is not a printer URL")
    opened = open_printer(device_url or "sim://printer")
    yield opened
    opened.close()


def test_status_is_read_within_a_second_and_the_printer_is_ready(printer: ReceiptPrinter) -> None:
    started = time.monotonic()
    report = printer.status()
    assert isinstance(report, StatusReport)
    assert time.monotonic() - started < 1.0
    assert report.ready, report.summary()


def test_the_test_page_prints_and_the_printer_is_ready_afterwards(printer: ReceiptPrinter) -> None:
    document = sample_document("test", printer.profile, status=printer.status(), printer_url="contract")
    result = printer.print_document(document)
    assert result.ok, result.error
    assert result.after is not None and result.after.ready


def test_a_letter_prints_with_its_qr_code(printer: ReceiptPrinter) -> None:
    result = printer.print_document(sample_document("letter", printer.profile))
    assert result.ok, result.error
    assert result.bytes_sent > 0
