"""The ECR's rules with a hand-written scripted link: validation first, one transaction at a time,
T4 restarted by every intermediate status, the goods decision and its answers."""

from __future__ import annotations

import time
from collections import deque
from decimal import Decimal

import pytest

from drivers.payment import Fate, Outcome
from drivers.payment import messages as m
from drivers.payment.apdu import amount_encode, bcd_encode
from drivers.payment.codes import TERMINAL_STATUS, TERMINAL_STATUS_RU
from drivers.payment.ecr import GoodsPolicy, ZvtTerminal
from drivers.payment.errors import InvalidAmountError, TerminalBusyError, TerminalRefusedError
from drivers.payment.link import Timing

TID = bcd_encode("52523535", 4)
REGISTERED = [m.POSITIVE, m.completion(b"\x19\x10\x29" + TID + b"\x49\x06\x43")]
APPROVED = m.status_information(
    [
        (0x27, b"\x00"),
        (0x04, amount_encode(150000)),
        (0x0B, bcd_encode("000042", 3)),
        (0x87, bcd_encode("0007", 2)),
    ]
)


class ScriptedLink:
    """Plays the terminal's messages in order (each after a delay) and records what we sent."""

    def __init__(self, script: list[bytes | tuple[float, bytes]]) -> None:
        self.script: deque[tuple[float, bytes]] = deque(s if isinstance(s, tuple) else (0.0, s) for s in script)
        self.sent: list[bytes] = []
        self.bytes_out = self.bytes_in = 0
        self._due: float | None = None

    def send(self, apdu: bytes) -> None:
        self.sent.append(apdu)

    def receive(self, timeout: float) -> bytes | None:
        if not self.script:
            time.sleep(timeout)
            return None
        delay, apdu = self.script[0]
        if self._due is None:
            self._due = time.monotonic() + delay
        wait = self._due - time.monotonic()
        if wait > timeout:
            time.sleep(timeout)
            return None
        time.sleep(max(wait, 0))
        self.script.popleft()
        self._due = None
        return apdu

    def close(self) -> None:
        pass


def terminal(script: list[bytes | tuple[float, bytes]], **kw: object) -> tuple[ZvtTerminal, ScriptedLink]:
    link = ScriptedLink(script)
    options: dict[str, object] = {"timing": Timing(t3=0.5, t4=0.5), "goods": GoodsPolicy(3, 5, 0.3)} | kw
    return ZvtTerminal(link, **options), link  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), Decimal("1.005"), Decimal("1000000.01"), 12.5])
def test_a_bad_amount_is_refused_before_the_terminal_is_touched(amount: Decimal) -> None:
    ecr, link = terminal([])
    with pytest.raises(InvalidAmountError):
        ecr.authorise(amount)
    assert link.sent == []


def test_t4_is_restarted_by_every_intermediate_status() -> None:
    statuses = [(0.3, m.intermediate_status(0x17)) for _ in range(5)]  # 1.5 s of work, T4 = 0.5 s
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, *statuses, (0.3, APPROVED)])
    texts: list[str] = []
    auth = ecr.authorise(Decimal("1500.00"), on_status=texts.append)
    assert auth.approved and auth.fate is Fate.PENDING
    assert texts == ["Подождите"] * 5
    ecr.refuse_goods(auth)


def test_silence_longer_than_t4_after_acceptance_is_a_timeout_of_unknown_fate() -> None:
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, (0.8, APPROVED)])
    auth = ecr.authorise(Decimal("1500.00"))
    assert (auth.approved, auth.outcome, auth.fate) == (False, Outcome.TIMEOUT, Fate.UNKNOWN)


def test_an_intermediate_status_may_set_a_longer_t4() -> None:
    long_wait = m.intermediate_status(0x0E, timeout_minutes=1)
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, long_wait, (0.9, APPROVED)])
    assert ecr.authorise(Decimal("1500.00")).approved


def test_overlapping_calls_raise_busy_while_the_goods_decision_is_pending() -> None:
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, APPROVED])
    auth = ecr.authorise(Decimal("1500.00"))
    with pytest.raises(TerminalBusyError):
        ecr.authorise(Decimal("10.00"))
    with pytest.raises(TerminalBusyError):
        ecr.refund(Decimal("10.00"))
    assert ecr.status().ready is False
    ecr.link.script.extend([(0.0, m.print_line("STORNO")), (0.0, m.abort_pt(0x6C))])  # type: ignore[attr-defined]
    completion = ecr.refuse_goods(auth, 0x66)
    assert completion.fate is Fate.REVERSED


def test_confirming_answers_the_held_status_information_with_80_00_00() -> None:
    ecr, link = terminal([*REGISTERED, m.POSITIVE, APPROVED, m.print_line("OK"), m.completion()])
    auth = ecr.authorise(Decimal("1500.00"))
    assert (auth.receipt_no, auth.trace, auth.amount) == ("0007", "000042", Decimal("1500.00"))
    completion = ecr.confirm_goods(auth)
    assert completion.fate is Fate.COMMITTED and completion.approved
    assert completion.receipt_lines == ("OK",)
    assert link.sent.count(m.NOT_FINISHED) == 0  # decided within the hold: no re-ask needed
    assert ecr.confirm_goods(auth) is completion  # asking again is harmless


def test_a_slow_decision_is_bridged_with_84_9c_00() -> None:
    ecr, link = terminal([*REGISTERED, m.POSITIVE, APPROVED, (0.1, APPROVED), m.completion()])
    auth = ecr.authorise(Decimal("1500.00"))
    time.sleep(0.45)  # longer than the 0.3 s hold
    assert ecr.confirm_goods(auth).fate is Fate.COMMITTED
    assert link.sent.count(m.NOT_FINISHED) == 1
    assert link.sent[-2:] == [m.POSITIVE, m.POSITIVE]  # the goods answer, then the completion's


def test_refusing_sends_the_reason_code_and_rejects_positive_codes() -> None:
    ecr, link = terminal([*REGISTERED, m.POSITIVE, APPROVED, m.abort_pt(0x6C)])
    auth = ecr.authorise(Decimal("1500.00"))
    with pytest.raises(ValueError):
        ecr.refuse_goods(auth, 0x9C)
    assert ecr.refuse_goods(auth, 0x66).fate is Fate.REVERSED
    assert m.negative(0x66) in link.sent


def test_a_failing_screen_callback_does_not_break_the_payment() -> None:
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, m.intermediate_status(0x0A), APPROVED])

    def broken(text: str) -> None:
        raise RuntimeError("screen gone")

    assert ecr.authorise(Decimal("1500.00"), on_status=broken).approved


def test_a_declined_payment_is_acknowledged_and_followed_to_its_abort() -> None:
    declined = m.status_information([(0x27, b"\x05")])
    ecr, link = terminal([*REGISTERED, m.POSITIVE, declined, m.print_line("ABGELEHNT"), m.abort_pt(0x05)])
    auth = ecr.authorise(Decimal("1500.00"))
    assert (auth.approved, auth.outcome, auth.fate, auth.result_code) == (
        False,
        Outcome.DECLINED,
        Fate.DECLINED,
        5,
    )
    assert auth.receipt_lines == ("ABGELEHNT",)
    assert link.sent[-3:] == [m.POSITIVE] * 3


def test_customer_cancel_is_not_a_fault() -> None:
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, m.status_information([(0x27, b"\x6c")]), m.abort_pt(0x6C)])
    assert ecr.authorise(Decimal("10.00")).outcome is Outcome.CANCELLED_BY_CUSTOMER


def test_a_negative_answer_to_the_command_is_a_declined_result_with_its_code() -> None:
    ecr, _ = terminal([*REGISTERED, m.negative(0x6B)])
    auth = ecr.authorise(Decimal("10.00"))
    assert (auth.outcome, auth.result_code, auth.fate) == (Outcome.FAULT, 0x6B, Fate.DECLINED)


@pytest.mark.parametrize(
    ("status_byte", "ready", "english", "russian"),
    [
        (0x00, True, "PT ready", "терминал готов"),
        (0x62, False, "date/time incorrect", "на терминале неверные дата и время"),
        (0xDF, False, "out of order", "терминал не работает"),
        (0x77, False, "unknown terminal status 77", "неизвестное состояние терминала 77"),
    ],
)
def test_status_enquiry_reports_the_terminal_status_in_english_and_russian(
    status_byte: int, ready: bool, english: str, russian: str
) -> None:
    ecr, link = terminal([m.POSITIVE, m.completion(bytes([status_byte]))])
    status = ecr.status()
    assert (status.ready, status.reason, status.status_code) == (ready, english, status_byte)
    assert status.reason_ru == russian
    assert link.sent == [m.status_enquiry("000000"), m.POSITIVE]  # the completion acknowledged


def test_an_aborted_status_enquiry_is_not_read_as_a_status_byte() -> None:
    ecr, _ = terminal([m.POSITIVE, m.abort_pt(0x83)])
    status = ecr.status()
    assert not status.ready and status.reason_ru == "терминал отклонил запрос состояния (код 131)"


def test_every_terminal_status_byte_has_its_russian_reason() -> None:
    assert set(TERMINAL_STATUS_RU) == set(TERMINAL_STATUS)
    assert all(text and text == text.strip() and text[0].islower() for text in TERMINAL_STATUS_RU.values())


def test_the_status_names_the_terminal_once_registration_told_its_id() -> None:
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, m.completion(b"\x00")])
    ecr.register()
    assert ecr.status().terminal_id == "52523535"


def test_silence_after_confirming_leaves_the_fate_unknown_not_committed() -> None:
    # §2.2.8: the terminal stores the payment only after our answers to the 04 0F and every receipt line.
    ecr, link = terminal([*REGISTERED, m.POSITIVE, APPROVED, m.print_line("APPROVED")])
    completion = ecr.confirm_goods(ecr.authorise(Decimal("1500.00")))
    assert (completion.approved, completion.fate) == (False, Fate.UNKNOWN)
    assert completion.receipt_lines == ("APPROVED",)
    assert link.sent[-1] == m.POSITIVE  # the print line was answered; the completion never came


def test_an_abort_after_confirming_is_unknown_for_repeat_receipt_to_settle() -> None:
    ecr, _ = terminal([*REGISTERED, m.POSITIVE, APPROVED, m.abort_pt(0x66)])
    completion = ecr.confirm_goods(ecr.authorise(Decimal("1500.00")))
    assert (completion.approved, completion.fate, completion.result_code) == (False, Fate.UNKNOWN, 0x66)


def test_repeat_receipt_asks_for_the_status_information_and_without_it_is_never_approved() -> None:
    ecr, link = terminal([*REGISTERED, m.POSITIVE, m.print_line("COPY"), m.completion()])
    ecr.register()
    last = ecr.repeat_receipt()
    assert link.sent[-3] == m.repeat_receipt("000000", 0x01)
    assert (last.approved, last.fate, last.outcome, last.trace) == (False, Fate.UNKNOWN, Outcome.FAULT, None)


def test_the_ask_again_hold_must_stay_inside_t3() -> None:
    with pytest.raises(ValueError, match="inside T3"):
        terminal([], timing=Timing(t3=5.0), goods=GoodsPolicy(30, 5, 5.0))
    assert GoodsPolicy().hold == 3.0


def test_registration_reads_the_vending_mode_bit_and_status_reports_it() -> None:
    ready = [m.POSITIVE, m.completion(b"\x00")]
    retail = [m.POSITIVE, m.completion(b"\x19\x00\x29" + TID)]  # status byte 00: not a vending machine
    ecr, _ = terminal([*ready, *retail, *ready])
    assert ecr.status().vending_mode is None  # nothing known before a registration
    assert ecr.register().vending_mode is False
    assert ecr.status().vending_mode is False


def test_a_charset_the_terminal_does_not_echo_falls_back_to_cp437() -> None:
    ecr, link = terminal([*REGISTERED], charset="latin-1")
    assert ecr.register().charset == "cp437"
    assert bytes.fromhex("27031401 01".replace(" ", "")) in link.sent[0]
    echoed = m.completion(b"\x19\x10\x29" + TID + b"\x06\x05\x27\x03\x14\x01\x01")
    ecr, _ = terminal([m.POSITIVE, echoed], charset="latin-1")
    assert ecr.register().charset == "iso8859-1"


def test_a_wrong_currency_at_registration_is_result_6f() -> None:
    ecr, _ = terminal([m.wrong_currency(978)])
    with pytest.raises(TerminalRefusedError) as caught:
        ecr.register()
    assert caught.value.result_code == 0x6F
