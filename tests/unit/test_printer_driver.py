"""URLs, profiles, the recorder fake and the simulator's tokenizer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.printer import Cut, Document, PrinterURLError, ProfileError, Text, load_profile, parse_url
from drivers.printer.escpos_stream import Command, TextRun, Token, Tokenizer
from drivers.printer.profiles import available_profiles, profile_from_mapping
from drivers.printer.recorder import NEAR_END, PAPER_OUT, READY, RecordingPrinter
from drivers.printer.simulator import JobJournal, PrinterModel

DATA = Path(__file__).resolve().parents[1] / "data" / "printer"
DOC = Document.of("policy", [Text("Полис"), Cut()])


# --- URLs -----------------------------------------------------------------------------------------


def test_the_url_grammar_covers_every_transport() -> None:
    usb = parse_url("escpos+usb://0x0dd4:0x0205?profile=custom-vkp80")
    assert (usb.transport, usb.host, usb.param("profile")) == ("usb", "0x0dd4:0x0205", "custom-vkp80")
    serial = parse_url("escpos+serial:///dev/ttyS0?baudrate=115200")
    assert (serial.transport, serial.path, serial.param("baudrate")) == ("serial", "/dev/ttyS0", "115200")
    tcp = parse_url("escpos+tcp://127.0.0.1:9100")
    assert (tcp.transport, tcp.host, tcp.port) == ("tcp", "127.0.0.1", 9100)
    assert parse_url("escpos+file:///tmp/out.bin").path == "/tmp/out.bin"
    assert parse_url("sim://printer?fault=near-end&fault=cover-open").params["fault"] == [
        "near-end",
        "cover-open",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "lp://printer",
        "escpos+tcp://:9100",
        "escpos+serial://",
        "escpos+usb://",
        "sim://terminal",
        "escpos+tcp://h:x",
    ],
)
def test_bad_urls_are_refused_with_a_printer_url_error(url: str) -> None:
    with pytest.raises(PrinterURLError):
        parse_url(url)


def test_importing_the_printer_package_does_not_import_python_escpos() -> None:
    code = "import sys, drivers.printer, kiosk.documents.samples; print('escpos' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- profiles -------------------------------------------------------------------------------------


def test_the_shipped_profiles_cover_epson_custom_and_a_58_mm_clone() -> None:
    assert {"epson-80", "custom-vkp80", "clone-58"} <= set(available_profiles())
    epson, custom, clone = (load_profile(n) for n in ("epson-80", "custom-vkp80", "clone-58"))
    assert (epson.code_page, epson.code_page_number, epson.columns) == ("CP866", 17, 48)
    assert custom.presenter == b"\x1de\x03\x00" and custom.extended_status == "custom"
    assert clone.columns == 32 and clone.width_dots == 384 and clone.code_page_number != 17


def test_a_profile_can_be_loaded_from_a_file(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "drivers/printer/profiles/epson-80.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "epson-80"', 'name = "mine"').replace("number = 17", "number = 7"))
    assert load_profile(str(path)).code_page_number == 7


def test_unknown_or_invalid_profiles_are_refused() -> None:
    with pytest.raises(ProfileError, match="unknown printer profile"):
        load_profile("VKP80")
    base = {"name": "x", "paper_mm": 80, "dpi": 203, "width_dots": 576, "columns": 48, "columns_small": 64}
    with pytest.raises(ProfileError, match="code page"):
        profile_from_mapping({**base, "code_page": {"name": "CP866", "number": 300}})
    with pytest.raises(ProfileError, match="unknown key"):
        profile_from_mapping({**base, "code_page": {"name": "CP866", "number": 17}, "colour": True})


# --- the recorder -----------------------------------------------------------------------------------


def test_the_recorder_refuses_to_send_when_the_printer_is_not_ready() -> None:
    printer = RecordingPrinter(status=PAPER_OUT)
    result = printer.print_document(DOC)
    assert result.failed and not result.sent and printer.sent == []
    assert result.before.codes[:2] == ("offline", "paper_end")


def test_a_job_that_runs_into_paper_end_is_reported_failed() -> None:
    printer = RecordingPrinter()
    printer.script_after_print(PAPER_OUT)
    result = printer.print_document(DOC)
    assert result.sent and result.failed and result.ran_out_of_paper
    assert printer.status() == PAPER_OUT


def test_near_end_still_prints_and_is_reported_as_a_warning() -> None:
    printer = RecordingPrinter(status=NEAR_END)
    result = printer.print_document(DOC)
    assert result.ok and result.after is not None and result.after.warnings
    assert printer.documents == [DOC]


def test_a_send_failure_is_a_failed_job_not_an_exception() -> None:
    printer = RecordingPrinter(status=READY)
    printer.fail_send = True
    result = printer.print_document(DOC)
    assert result.failed and result.error is not None and "send failed" in result.error


# --- the simulator's tokenizer ----------------------------------------------------------------------


def test_the_simulator_reads_the_reference_ticket_like_emupos_does() -> None:
    model = PrinterModel(load_profile("epson-80"), JobJournal(None))
    model.open_connection(1, None)
    model.receive(1, (DATA / "reference_sample.bin").read_bytes())
    model.close_connection(1)
    (job,) = model.journal.records
    emupos = (DATA / "reference_sample_emupos.txt").read_text(encoding="utf-8")
    for line in ("ПОЛИС ОСАГО", "Полис ОСАГО № ХХХ 0123456789", "Страховая премия 7 535,00 руб."):
        assert line in emupos and line in job["text"]
    assert job["qr"] == ["https://kiosk.example.ru/p/XXX0123456789?c=7f3a9b"]
    assert job["barcodes"] == ["XXX0123456789"]


def test_feeding_the_stream_byte_by_byte_gives_the_same_tokens() -> None:
    data = (DATA / "reference_sample.bin").read_bytes()
    whole = list(Tokenizer().feed(data))
    tokenizer = Tokenizer()
    pieces = [token for i in range(len(data)) for token in tokenizer.feed(data[i : i + 1])]
    assert merged_text(pieces) == merged_text(whole)  # text runs may split at chunk borders
    assert any(isinstance(t, Command) and t.name == "GS ( k" for t in whole)


def merged_text(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        if isinstance(token, TextRun) and out and isinstance(out[-1], TextRun):
            out[-1] = TextRun(out[-1].data + token.data)
        else:
            out.append(token)
    return out


@given(st.binary(max_size=300))
def test_the_tokenizer_never_raises_and_keeps_only_an_incomplete_tail(data: bytes) -> None:
    tokenizer = Tokenizer()
    consumed = sum(
        len(t.raw) if isinstance(t, Command) else (len(t.data) if hasattr(t, "data") else 1)
        for t in tokenizer.feed(data)
    )
    assert consumed + tokenizer.pending == len(data)
