"""Ledger reader/writer, URL grammar, recorder fake and the status/result code tables."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.payment import Fate, Outcome, PaymentTerminal, open_terminal
from drivers.payment.codes import status_text_ru
from drivers.payment.errors import InvalidAmountError, TerminalBusyError, TransportError
from drivers.payment.ledger import Ledger, final_states, read_ledger
from drivers.payment.models import outcome_of
from drivers.payment.recorder import RecordingTerminal
from drivers.payment.url import common_options, parse_url
from drivers.payment.zvt_serial import serial_target


def test_the_ledger_is_json_lines_with_string_amounts_and_a_final_state_per_receipt(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append("authorised", receipt_no="0001", trace="000001", amount=Decimal("10.50"))
    ledger.append("committed", receipt_no="0001", trace="000001", amount=Decimal("10.50"))
    ledger.append("authorised", receipt_no="0002", trace="000002", amount=Decimal("7.00"))
    ledger.append("reversed", receipt_no="0002", trace="000002", amount=Decimal("7.00"), reason="no_ack")
    ledger.append("declined", trace="000003", amount=Decimal("1.00"), result_code="05")
    ledger.close()
    first = json.loads(path.read_text().splitlines()[0])
    assert first["amount"] == "10.50" and first["seq"] == 1 and first["time"].endswith("+00:00")
    states = final_states(path)
    assert {k: v.fate for k, v in states.items()} == {"0001": Fate.COMMITTED, "0002": Fate.REVERSED}
    assert final_states(path, key="trace")["000003"].fate is Fate.DECLINED
    assert states["0002"].reason == "no_ack"
    assert Ledger(path).entries[-1].seq == 5  # reopening continues the sequence


def test_a_torn_last_line_is_ignored_but_damage_inside_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path).append("committed", receipt_no="0001", amount=Decimal("1.00"))
    with path.open("a") as f:
        f.write('{"seq": 2, "ti')
    assert len(read_ledger(path)) == 1
    path.write_text('garbage\n{"seq": 1, "time": "2024-01-01T00:00:00+00:00", "event": "committed"}\n')
    with pytest.raises(ValueError):
        read_ledger(path)


def test_url_options_become_timing_and_goods_policy() -> None:
    url = parse_url("zvt:///dev/ttyUSB0?baudrate=9600&t2=1&t4=60&goods_timeout=12&password=123456")
    params = dict(url.params)
    params.pop("baudrate")
    options = common_options(params, {})
    assert options["timing"].t2 == 1 and options["timing"].t4 == 60
    assert options["goods"].answer_timeout == 12 and options["goods"].hold <= 10
    assert options["password"] == "123456"
    assert params == {}


def test_pyserial_handlers_are_reached_through_zvt_plus_scheme() -> None:
    spy = parse_url("zvt+spy:///dev/ttyUSB0?baudrate=9600&spy_file=/tmp/zvt.txt&spy_color=")
    params = dict(spy.params)
    assert serial_target(spy, params) == "spy:///dev/ttyUSB0?file=/tmp/zvt.txt&color"
    assert params == {"baudrate": "9600"}
    plain = parse_url("zvt:///dev/serial/by-id/usb-1a86?baudrate=9600")
    assert serial_target(plain, {}) == "/dev/serial/by-id/usb-1a86"
    socket_url = parse_url("zvt+socket://127.0.0.1:4001")
    assert serial_target(socket_url, {}) == "socket://127.0.0.1:4001"


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "zvt:///dev/null?bogus=1", "sim://printer", "zvt+tcp://", "nourl"],
)
def test_bad_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises((ValueError, TransportError)):
        open_terminal(url)


def test_importing_the_payment_package_does_not_import_pyserial() -> None:
    import subprocess
    import sys

    code = "import sys, drivers.payment, drivers.payment.simulator; print('serial' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_result_codes_keep_customer_cancel_apart_from_faults() -> None:
    assert outcome_of(0x6C)[0] is Outcome.CANCELLED_BY_CUSTOMER
    assert outcome_of(0x05)[0] is Outcome.DECLINED
    assert outcome_of(0x64)[0] is Outcome.CARD_ERROR
    assert outcome_of(0x9A)[0] is Outcome.FAULT
    assert outcome_of(0x2A)[0] is Outcome.DECLINED  # any host code 01..63
    assert outcome_of(0xEE)[0] is Outcome.FAULT


def test_status_texts_are_short_russian_and_unknown_german_is_never_shown_raw() -> None:
    assert status_text_ru(0x0A) == "Вставьте или приложите карту"
    assert status_text_ru(0xFF, ("Bitte warten",)) == "Подождите"
    assert status_text_ru(0xFF, ("Kartenterminal gesperrt XYZ",)) == "Идёт оплата, следуйте указаниям терминала"
    assert "Заберите карту" in status_text_ru(0x4C)


def test_the_recorder_follows_the_driver_rules_and_plays_scripts() -> None:
    terminal = RecordingTerminal()
    assert isinstance(terminal, PaymentTerminal)
    with pytest.raises(InvalidAmountError):
        terminal.authorise(Decimal("0"))
    texts: list[str] = []
    auth = terminal.authorise(Decimal("100.00"), on_status=texts.append)
    assert auth.approved and auth.fate is Fate.PENDING and texts
    with pytest.raises(TerminalBusyError):
        terminal.authorise(Decimal("5.00"))
    assert terminal.confirm_goods(auth).fate is Fate.COMMITTED
    assert auth.receipt_no is not None and terminal.book[auth.receipt_no] is Fate.COMMITTED
    terminal.script_authorisations(Outcome.DECLINED, Outcome.APPROVED)
    terminal.script_completions(Fate.UNKNOWN)
    assert terminal.authorise(Decimal("5.00")).outcome is Outcome.DECLINED
    second = terminal.authorise(Decimal("5.00"))
    assert terminal.confirm_goods(second).fate is Fate.UNKNOWN
    terminal.fail_next("status", TransportError("cable"))
    with pytest.raises(TransportError):
        terminal.status()
    assert terminal.call_names[:3] == ["authorise", "confirm_goods", "authorise"]
