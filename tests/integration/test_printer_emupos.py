"""Every document printed over TCP into emupos, an independent ESC/POS emulator (own venv, Python 3.13).

Checks what a customer would see: Cyrillic text in emupos' dump, QR codes that zbar decodes from the
PNG to the expected data, and status in every fault emupos can inject. The PNGs are kept in
``artifacts/printer/`` for a person to look at.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printer import ReceiptPrinter, load_profile, open_printer
from drivers.printer.compose import plain_text
from drivers.printer.formatter import render
from kiosk.documents.samples import SAMPLE_KINDS, sample_document
from tests.integration.emupos_harness import Emupos, zbarimg

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Emupos.available(), reason="emupos is not installed (./scripts/setup)"),
]

PROFILES = ("epson-80", "clone-58", "custom-vkp80")


@pytest.fixture(scope="module")
def emupos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emupos]:
    emulator = Emupos(tmp_path_factory.mktemp("emupos"), [load_profile(name) for name in PROFILES]).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def printed(emupos: Emupos, artifacts_dir: Path) -> dict[tuple[str, str], dict[str, object]]:
    """Print every sample on every profile once; keep text, PNG path and QR codes per document."""
    out = artifacts_dir / "printer"
    out.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], dict[str, object]] = {}
    for name in PROFILES:
        device = emupos.devices[name]
        count = 0
        printer = open_printer(device.url)
        try:
            for kind in SAMPLE_KINDS:
                document = sample_document(kind, printer.profile, status=printer.status(), printer_url=device.url)
                if printer.profile.extended_status == "custom":
                    # emupos does not answer Custom's DLE EOT 20 (escpos report, 3.1): send the
                    # formatter's bytes directly and check the rendering only.
                    with socket.create_connection(("127.0.0.1", device.port), timeout=5) as sock:
                        sock.sendall(render(document, printer.profile))
                    ok = True
                else:
                    ok = printer.print_document(document).ok
                count += 1
                receipt = emupos.wait_receipt(name, count)
                png = out / f"{name}-{kind}.png"
                png.write_bytes(emupos.image(name, str(receipt["id"])))
                results[(name, kind)] = {
                    "ok": ok,
                    "text": emupos.text(name, str(receipt["id"])),
                    "png": png,
                    "codes": zbarimg(png),
                    "document": document,
                    "width": receipt["width_dots"],
                }
        finally:
            printer.close()
    return results


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
@pytest.mark.parametrize("profile", PROFILES)
def test_each_document_renders_in_russian_in_emupos(
    printed: dict[tuple[str, str], dict[str, object]], profile: str, kind: str
) -> None:
    result = printed[(profile, kind)]
    assert result["ok"] is True
    p = load_profile(profile)
    assert result["width"] == p.width_dots
    dump = str(result["text"])
    document = result["document"]
    for raw in plain_text(document, p).splitlines():  # type: ignore[arg-type]
        line = " ".join(raw.split())
        if line and not line.startswith(("[QR:", "[CODE128:", "~~~")):
            assert line in " ".join(dump.split()), line


@pytest.mark.parametrize("kind", ["policy", "letter", "test"])
@pytest.mark.parametrize("profile", PROFILES)
def test_qr_codes_decode_from_the_png_to_the_expected_data(
    printed: dict[tuple[str, str], dict[str, object]], profile: str, kind: str
) -> None:
    if shutil.which("zbarimg") is None:
        pytest.skip("zbar-tools is not installed")
    result = printed[(profile, kind)]
    expected = {f"QR-Code:{data}" for data in result["document"].qr_codes}  # type: ignore[attr-defined]
    assert expected <= set(result["codes"])  # type: ignore[arg-type]
    dump = str(result["text"])
    for data in result["document"].qr_codes:  # type: ignore[attr-defined]
        assert f"[qr {data}]" in dump


@pytest.fixture
def epson(emupos: Emupos) -> Iterator[ReceiptPrinter]:
    printer = open_printer(emupos.devices["epson-80"].url)
    yield printer
    printer.close()
    emupos.clear_faults("epson-80")


@pytest.mark.parametrize(
    ("fault", "ready", "codes"),
    [
        ("paper-near-end", True, ("paper_near_end",)),
        ("paper-out", False, ("offline", "paper_end", "paper_near_end")),
        ("cover-open", False, ("offline", "cover_open")),
        ("offline", False, ("offline",)),
    ],
)
def test_status_is_read_correctly_in_every_fault_emupos_injects(
    emupos: Emupos, epson: ReceiptPrinter, fault: str, ready: bool, codes: tuple[str, ...]
) -> None:
    assert epson.status().ready
    emupos.set_fault("epson-80", fault)
    report = epson.status()
    assert (report.ready, report.codes) == (ready, codes)


def test_a_job_sent_into_paper_out_is_reported_failed(emupos: Emupos, epson: ReceiptPrinter) -> None:
    before = len(emupos.receipts("epson-80"))
    emupos.set_fault("epson-80", "paper-out")
    result = epson.print_document(sample_document("policy", epson.profile), precheck=False)
    assert result.sent and result.failed and result.ran_out_of_paper
    assert len(emupos.receipts("epson-80")) == before  # emupos holds the job; nothing came out


def test_a_refused_job_is_not_sent_at_all(emupos: Emupos, epson: ReceiptPrinter) -> None:
    emupos.set_fault("epson-80", "cover-open")
    result = epson.print_document(sample_document("memo", epson.profile))
    assert not result.sent and result.failed and "cover_open" in result.before.codes
