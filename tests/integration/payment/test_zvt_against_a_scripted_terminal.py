"""The real ECR (pyserial on a pty) against a terminal scripted to the letter of the spec.

The scripted terminal (``tests.support.zvt_scripted_terminal``) has its own framing and CRC and shares
nothing with the product's simulator. Each test plays one dialogue of the command spec PA00P015 13.08
and checks what the ECR sent and what it concluded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from drivers.payment import Fate, open_terminal
from drivers.payment.ecr import ZvtTerminal
from drivers.payment.errors import TerminalRefusedError
from tests.support.zvt_scripted_terminal import ScriptedTerminal, apdu, bcd, tlv

pytestmark = pytest.mark.integration

T3 = 5.0  # transport spec §5.2.5: the answer to a command within 5 s
PAYMENT_TRACE = "000815"


def connect(term: ScriptedTerminal, options: str = "t2=2&t4=3") -> ZvtTerminal:
    terminal = open_terminal(f"zvt://{term.path}?{options}")
    assert isinstance(terminal, ZvtTerminal)
    return terminal


def approved(amount_bcd: str = "000000012345", trace: str = PAYMENT_TRACE) -> bytes:
    """04 0F of an approved payment: 27 00, amount, trace, receipt no 0042, TID."""
    body = b"\x27\x00\x04" + bcd(amount_bcd) + b"\x0b" + bcd(trace) + b"\x87" + bcd("0042") + b"\x29" + bcd("29001234")
    return apdu(0x04, 0x0F, body)


def authorisation_until_status_information(t: ScriptedTerminal) -> None:
    t.registration()
    t.expect(0x06, 0x01)
    t.send(apdu(0x80, 0x00))
    t.send(approved())  # the goods decision is now the ECR's


def test_repeat_receipt_goes_out_with_service_byte_01_and_the_status_information_decides() -> None:
    term = ScriptedTerminal()
    sent: list[bytes] = []

    def script(t: ScriptedTerminal) -> None:
        sent.append(t.expect(0x06, 0x20))
        t.send(apdu(0x80, 0x00))
        t.command(approved())  # §2.20.2: the Status-Information of the last transaction
        t.command(apdu(0x06, 0x0F))

    with term.running(script), connect(term) as ecr:
        last = ecr.repeat_receipt()
    # §2.20.1: <password> 03 <service-byte>, bit 0 = "ECR requires Status-Information".
    assert sent == [bytes.fromhex("000000 03 01".replace(" ", ""))]
    assert (last.fate, last.trace, last.receipt_no, last.amount) == (
        Fate.COMMITTED,
        PAYMENT_TRACE,
        "0042",
        Decimal("123.45"),
    )


def test_silence_after_80_00_00_leaves_the_fate_unknown_until_repeat_receipt_resolves_it() -> None:
    term = ScriptedTerminal()
    repeat_asked: list[bytes] = []

    def script(t: ScriptedTerminal) -> None:
        authorisation_until_status_information(t)
        t.expect(0x80, 0x00)  # goods confirmed...
        time.sleep(4.0)  # ...and the terminal says nothing more (power dip): the ECR's T4 (3 s) runs out
        repeat_asked.append(t.expect(0x06, 0x20))
        t.send(apdu(0x80, 0x00))
        # It had not stored the payment (no receipt answered): an auto-reversal of that trace (BMP 37).
        reversal = b"\x27\x00\x04" + bcd("000000012345") + b"\x0b" + bcd("000816") + b"\x37" + bcd(PAYMENT_TRACE)
        t.command(apdu(0x04, 0x0F, reversal + b"\x87" + bcd("0042")))
        t.command(apdu(0x06, 0x0F))

    with term.running(script), connect(term) as ecr:
        auth = ecr.authorise(Decimal("123.45"))
        completion = ecr.confirm_goods(auth)
        settled = ecr.repeat_receipt()
    assert auth.fate is Fate.PENDING and auth.trace == PAYMENT_TRACE
    assert (completion.approved, completion.fate) == (False, Fate.UNKNOWN)
    assert repeat_asked == [bytes.fromhex("00000003 01".replace(" ", ""))]
    assert (settled.fate, settled.original_trace) == (Fate.REVERSED, PAYMENT_TRACE)


def test_the_ask_again_pause_lies_well_inside_t3() -> None:
    term = ScriptedTerminal()
    pauses: list[float] = []

    def script(t: ScriptedTerminal) -> None:
        authorisation_until_status_information(t)
        asked_at = t.events[-1].at  # the ECR's 06 for our 04 0F: its answer timer starts here
        t.expect(0x84, 0x9C)
        pauses.append(t.events[-1].at - asked_at)
        time.sleep(2.0)  # §2.2.6: the PT asks again 2 s after 84 9C 00
        t.send(approved())
        t.expect(0x80, 0x00)  # now the goods are issued
        t.command(apdu(0x06, 0xD3, b"\x06" + bytes([len(block := tlv(0x25, tlv(0x07, b"PAID")))]) + block))
        t.command(apdu(0x06, 0x0F))

    with term.running(script), connect(term, "t2=2") as ecr:  # default hold and T3, as the kiosk runs
        auth = ecr.authorise(Decimal("123.45"))
        time.sleep(4.0)  # the policy takes a while to print: the ECR must bridge it with 84 9C 00
        completion = ecr.confirm_goods(auth)
    assert completion.fate is Fate.COMMITTED and completion.receipt_lines == ("PAID",)
    assert len(pauses) == 1
    assert 0.5 < pauses[0] < T3 - 1.0, f"84 9C 00 after {pauses[0]:.2f} s: a retail terminal reverses at T3"


def test_an_end_of_day_answer_without_its_length_byte_is_accepted_not_nakked() -> None:
    term = ScriptedTerminal()

    def script(t: ScriptedTerminal) -> None:
        t.registration()
        t.expect(0x06, 0x50)
        t.send(bytes([0x80, 0x00]))  # the firmware fault: "80 00" without "00"; a NAK here fails the script
        totals = b"\x27\x00\x04" + bcd("000000050000") + b"\x0b" + bcd("000900")
        t.command(apdu(0x04, 0x0F, totals))
        t.send(bytes([0x06, 0x0F]))  # and the completion the same way
        t.expect(0x80, 0x00)

    with term.running(script), connect(term) as ecr:
        started = time.monotonic()
        totals = ecr.end_of_day()
        elapsed = time.monotonic() - started
    assert totals.ok and totals.amount == Decimal("500.00")
    assert not [e for e in term.events if e.kind in ("nak", "bad")]
    assert elapsed < 3.0, f"end of day took {elapsed:.1f} s: the ECR waited for a timeout"


def test_a_wrong_currency_is_reported_as_6f_not_1e() -> None:
    term = ScriptedTerminal()

    def script(t: ScriptedTerminal) -> None:
        t.expect(0x06, 0x00)
        t.send(apdu(0x84, 0x1E, b"\x6f\x09\x78"))  # §2.1: 84 1E xx 6F [<CC>]
        t.expect(0x06, 0x00)  # authorise registers first: refused the same way
        t.send(apdu(0x84, 0x1E, b"\x6f\x09\x78"))

    with term.running(script), connect(term) as ecr:
        with pytest.raises(TerminalRefusedError) as refused:
            ecr.register()
        auth = ecr.authorise(Decimal("10.00"))
    assert refused.value.result_code == 0x6F
    assert (auth.approved, auth.result_code, auth.result_text, auth.fate) == (
        False,
        0x6F,
        "wrong currency",
        Fate.DECLINED,
    )


def test_registration_sends_the_list_of_permitted_commands_with_06_d3() -> None:
    term = ScriptedTerminal()
    registrations: list[bytes] = []

    def script(t: ScriptedTerminal) -> None:
        registrations.append(t.registration())

    with term.running(script), connect(term) as ecr:
        done = ecr.register()
    data = registrations[0]
    # <password 3> <config> <CC 2> 06 <length> 26 <length> {0A 02 <command>}...
    assert data[3] == 0xBE and data[4:6] == bytes.fromhex("0643")
    assert data[6] == 0x06
    container = data[8 : 8 + data[7]]
    assert container[0] == 0x26
    commands = container[2 : 2 + container[1]]
    listed = {commands[i + 2 : i + 4] for i in range(0, len(commands), 4) if commands[i : i + 2] == b"\x0a\x02"}
    assert bytes.fromhex("06D3") in listed and bytes.fromhex("06D1") not in listed
    assert (done.vending_mode, done.terminal_id) == (True, "29001234")


def test_receipt_text_decodes_in_the_configured_charset() -> None:
    term = ScriptedTerminal()

    def script(t: ScriptedTerminal) -> None:
        authorisation_until_status_information(t)
        t.expect(0x80, 0x00)
        block = tlv(0x25, tlv(0x07, "ОПЛАТА ПРОВЕДЕНА".encode("cp866")) + tlv(0x09, b"\xff"))
        t.command(apdu(0x06, 0xD3, b"\x06" + bytes([len(block)]) + block))
        t.command(apdu(0x06, 0x0F))

    with term.running(script), connect(term, "t2=2&charset=cp866") as ecr:
        completion = ecr.confirm_goods(ecr.authorise(Decimal("123.45")))
    assert completion.fate is Fate.COMMITTED
    assert completion.receipt_lines == ("ОПЛАТА ПРОВЕДЕНА",)


def test_terminal_status_reports_that_the_terminal_is_not_in_vending_mode() -> None:
    term = ScriptedTerminal()

    def script(t: ScriptedTerminal) -> None:
        t.registration(status_byte=0x00)  # a retail terminal
        t.expect(0x05, 0x01)
        t.send(apdu(0x80, 0x00))
        t.command(apdu(0x06, 0x0F, b"\xf0\xf0\xf3" + b"1.0" + b"\x00"))

    with term.running(script):
        proc = subprocess.run(
            [sys.executable, "-m", "kiosk", "terminal", "--url", f"zvt://{term.path}", "status", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert (status["ready"], status["vending_mode"], status["software_version"]) == (True, False, "1.0")


def test_the_scripted_terminal_itself_naks_a_bad_crc() -> None:
    # The rig's own check: a frame with a broken CRC is NAKed and not taken as an APDU.
    term = ScriptedTerminal()
    slave = open(term.path, "r+b", buffering=0)  # noqa: SIM115 - closed below
    try:
        good = bytes.fromhex("10 02 80 00 00 10 03 F5 1F")  # REPORT §1.3 worked example 1
        slave.write(good[:-1] + b"\x00")
        assert term.receive(timeout=1.0) is None
        slave.write(good)
        assert term.receive(timeout=1.0) == bytes.fromhex("800000")
        assert [e.kind for e in term.events] == ["bad", "rx"]
    finally:
        slave.close()
        term.close()
