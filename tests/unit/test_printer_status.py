"""The DLE EOT status parser and reader fail closed: no reply or a bad reply is never "ready"."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from drivers.printer.status import (
    COVER_OPEN,
    CUTTER_ERROR,
    MALFORMED_REPLY,
    NO_REPLY,
    OFFLINE,
    PAPER_END,
    PAPER_NEAR_END,
    PRINT_TIMEOUT,
    TICKET_NOT_TAKEN,
    StatusReader,
    is_dle_eot_reply,
    parse_custom_status,
    parse_dle_eot,
)


def replies(b1: int, b2: int, b3: int, b4: int) -> dict[int, bytes | None]:
    return {1: bytes([b1]), 2: bytes([b2]), 3: bytes([b3]), 4: bytes([b4])}


# Replies measured against emupos in the escpos reference report (preflight_output.txt).
def test_an_idle_printer_is_ready_with_nothing_to_report() -> None:
    report = parse_dle_eot(replies(0x12, 0x12, 0x12, 0x12))
    assert report.ready and not report.warnings and report.summary() == "Принтер готов"


def test_paper_near_end_is_a_warning_not_a_blocker() -> None:
    report = parse_dle_eot(replies(0x12, 0x12, 0x12, 0x1E))
    assert report.ready
    assert report.warnings == (PAPER_NEAR_END,)


def test_paper_out_blocks_as_offline_and_paper_end() -> None:
    report = parse_dle_eot(replies(0x1A, 0x32, 0x12, 0x7E))
    assert not report.ready
    assert set(report.blocking) == {OFFLINE, PAPER_END}


def test_cover_open_blocks() -> None:
    report = parse_dle_eot(replies(0x1A, 0x16, 0x12, 0x12))
    assert set(report.blocking) == {OFFLINE, COVER_OPEN}


def test_offline_alone_blocks() -> None:
    assert parse_dle_eot(replies(0x1A, 0x12, 0x12, 0x12)).blocking == (OFFLINE,)


def test_autocutter_error_blocks() -> None:
    assert CUTTER_ERROR in parse_dle_eot(replies(0x12, 0x52, 0x1A, 0x12)).blocking


def test_no_reply_is_not_ready_although_python_escpos_would_say_paper_adequate() -> None:
    report = parse_dle_eot({1: b"", 2: None})
    assert not report.ready
    assert report.blocking == (NO_REPLY,)
    assert "не отвечает" in report.summary()


def test_a_reply_of_two_bytes_or_a_wrong_shape_is_malformed() -> None:
    assert parse_dle_eot({1: b"\x12\x12", 2: b"\x12", 3: b"\x12", 4: b"\x12"}).blocking == (MALFORMED_REPLY,)
    assert parse_dle_eot(replies(0x12, 0xFF, 0x12, 0x12)).blocking == (MALFORMED_REPLY,)


def test_the_report_serialises_to_json_with_codes_and_russian_texts() -> None:
    data = parse_dle_eot(replies(0x1A, 0x32, 0x12, 0x7E)).to_dict()
    assert data["ready"] is False
    assert {"code": "paper_end", "text": "Нет бумаги"} in data["blocking"]
    assert data["raw"]["dle_eot_4"] == "7e"


@given(st.dictionaries(st.integers(1, 4), st.one_of(st.none(), st.binary(max_size=3))))
def test_ready_only_when_all_four_replies_are_well_formed_and_clear(raw: dict[int, bytes | None]) -> None:
    report = parse_dle_eot(raw)
    all_valid = all((r := raw.get(n)) is not None and len(r) == 1 and is_dle_eot_reply(r[0]) for n in (1, 2, 3, 4))
    if report.ready:
        assert all_valid
    if not all_valid:
        assert not report.ready


@given(st.binary(max_size=8))
def test_custom_full_status_never_raises_and_fails_closed(reply: bytes) -> None:
    report = parse_custom_status(reply)
    if len(reply) != 6 or reply[:2] != b"\x10\x0f":
        assert not report.ready


def test_custom_full_status_reports_a_ticket_left_in_the_presenter() -> None:
    assert parse_custom_status(bytes([0x10, 0x0F, 0x20, 0, 0, 0])).blocking == (TICKET_NOT_TAKEN,)
    assert parse_custom_status(bytes([0x10, 0x0F, 0x04, 0, 0, 0])).warnings == (PAPER_NEAR_END,)


class ScriptedTransport:
    """A printer on the other end of a wire: answers each request from a table, optionally late."""

    def __init__(self, answers: dict[bytes, bytes], completion: bytes | None = b"\x00") -> None:
        self.answers = answers
        self.completion = completion
        self.sent: list[bytes] = []
        self.inbox = bytearray()
        self.discarded = 0

    def send(self, data: bytes) -> None:
        self.sent.append(data)
        if data == b"\x1dr\x01":
            if self.completion is not None:
                self.inbox += self.completion
            return
        self.inbox += self.answers.get(data, b"")

    def receive(self, timeout: float) -> bytes:
        if not self.inbox:
            time.sleep(min(timeout, 0.01))
            return b""
        data, self.inbox = bytes(self.inbox), bytearray()
        return data

    def discard_input(self) -> None:
        self.discarded += len(self.inbox)
        self.inbox.clear()


READY_ANSWERS = {bytes([0x10, 0x04, n]): b"\x12" for n in (1, 2, 3, 4)}


def test_the_reader_stops_at_the_first_unanswered_query_instead_of_waiting_four_times() -> None:
    transport = ScriptedTransport({})
    started = time.monotonic()
    report = StatusReader(transport, timeout=0.1).read()
    assert time.monotonic() - started < 0.3
    assert report.blocking == (NO_REPLY,)
    assert transport.sent == [b"\x10\x04\x01"]


def test_the_reader_drops_stale_bytes_before_a_query() -> None:
    transport = ScriptedTransport(READY_ANSWERS)
    transport.inbox += b"\x1e\x1e"  # a late reply to an earlier query
    assert StatusReader(transport, timeout=0.1).read().ready
    assert transport.discarded == 2


def test_waiting_for_a_job_ends_when_the_gs_r_barrier_is_answered() -> None:
    transport = ScriptedTransport(READY_ANSWERS)
    report = StatusReader(transport, timeout=0.1).wait_printed(timeout=2)
    assert report.ready
    assert transport.sent[0] == b"\x1dr\x01"


def test_a_job_stuck_on_paper_end_is_reported_at_once_not_after_the_timeout() -> None:
    answers = dict(READY_ANSWERS)
    answers[b"\x10\x04\x01"], answers[b"\x10\x04\x02"], answers[b"\x10\x04\x04"] = b"\x1a", b"\x32", b"\x7e"
    transport = ScriptedTransport(answers, completion=None)  # GS r is held while the printer is stopped
    started = time.monotonic()
    report = StatusReader(transport, timeout=0.1).wait_printed(timeout=10, poll=0.05)
    assert time.monotonic() - started < 1
    assert PAPER_END in report.blocking


def test_a_job_that_never_finishes_times_out_as_a_blocking_condition() -> None:
    transport = ScriptedTransport(READY_ANSWERS, completion=None)
    report = StatusReader(transport, timeout=0.05).wait_printed(timeout=0.2, poll=0.05)
    assert PRINT_TIMEOUT in report.blocking


def test_custom_profiles_also_read_the_six_byte_full_status() -> None:
    answers = dict(READY_ANSWERS)
    answers[b"\x10\x04\x14"] = bytes([0x10, 0x0F, 0x01, 0, 0, 0])
    report = StatusReader(ScriptedTransport(answers), timeout=0.1, extended="custom").read()
    assert PAPER_END in report.blocking
