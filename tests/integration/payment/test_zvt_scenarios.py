"""The real ZVT ECR (pyserial on a pty) against the simulator process, scenario by scenario.

Every test checks both sides: what the driver returned and what the simulator's ledger recorded.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from drivers.payment import Fate, Outcome, open_terminal
from drivers.payment.ecr import ZvtTerminal

from .conftest import Simulator

pytestmark = pytest.mark.integration
StartSim = Callable[..., Simulator]
FAST_GOODS = "goods_timeout=5&goods_hold=0.5"


def connect(sim: Simulator, options: str = "t2=1") -> ZvtTerminal:
    terminal = open_terminal(f"{sim.url}?{options}")
    assert isinstance(terminal, ZvtTerminal)
    return terminal


def test_an_approved_payment_is_committed_when_the_goods_are_confirmed(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        texts: list[str] = []
        auth = terminal.authorise(Decimal("1234.50"), on_status=texts.append)
        assert (auth.approved, auth.outcome, auth.fate) == (True, Outcome.APPROVED, Fate.PENDING)
        assert auth.amount == Decimal("1234.50")
        assert auth.masked_pan == "559883******8074" and auth.terminal_id == "52523535"
        assert auth.receipt_no and auth.trace and auth.auth_code and auth.timestamp
        assert "Вставьте или приложите карту" in texts
        assert sim.fates() == {auth.receipt_no: "authorised"}  # the bank holds it, not committed yet
        done = terminal.confirm_goods(auth)
    assert (done.approved, done.fate) == (True, Fate.COMMITTED)
    assert "AMOUNT RUB 1234.50" in done.receipt_lines
    committed = [e for e in sim.entries() if e.event == "committed"]
    assert [(e.receipt_no, e.trace, e.amount) for e in committed] == [(auth.receipt_no, auth.trace, Decimal("1234.50"))]


def test_refused_goods_are_reversed_by_the_terminal(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("999.99"))
        done = terminal.refuse_goods(auth, 0x66)
    assert (done.approved, done.outcome, done.fate) == (False, Outcome.REVERSED, Fate.REVERSED)
    assert auth.receipt_no is not None
    entry = sim.entries()[-1]
    assert (entry.event, entry.receipt_no, entry.reason) == ("reversed", auth.receipt_no, "goods_refused")


def test_a_declined_card_returns_a_host_code_and_the_ledger_shows_no_money(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "decline")
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("50.00"))
    assert (auth.approved, auth.outcome, auth.result_code, auth.fate) == (
        False,
        Outcome.DECLINED,
        0x05,
        Fate.DECLINED,
    )
    assert "DECLINED" in auth.receipt_lines
    assert [(e.event, e.result_code) for e in sim.entries()] == [("declined", "05")]


def test_a_customer_cancel_is_kept_apart_from_faults(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "customer-abort")
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("50.00"))
    assert (auth.outcome, auth.result_code, auth.fate) == (Outcome.CANCELLED_BY_CUSTOMER, 0x6C, Fate.DECLINED)
    assert [(e.event, e.result_code) for e in sim.entries()] == [("declined", "6C")]


def test_an_unreadable_card_is_a_card_error(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "card-unreadable")
    with connect(sim) as terminal:
        texts: list[str] = []
        auth = terminal.authorise(Decimal("50.00"), on_status=texts.append)
    assert (auth.outcome, auth.result_code) == (Outcome.CARD_ERROR, 0x64)
    assert "Карта не читается" in texts
    assert [e.event for e in sim.entries()] == ["declined"]


def test_a_silent_terminal_times_out_and_no_money_moves(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "timeout")
    with connect(sim, "t2=0.5") as terminal:
        terminal.register()
        started = time.monotonic()
        auth = terminal.authorise(Decimal("50.00"))
        assert time.monotonic() - started < 3
        assert (auth.outcome, auth.fate) == (Outcome.TIMEOUT, Fate.DECLINED)  # the command was never taken
        sim.control_with(scenario="approve")
        assert terminal.status().ready  # the terminal is still there for the next command
    assert sim.entries() == []


def test_a_nak_storm_is_ridden_out_with_repeats_and_three_naks_are_a_fault(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "nak-storm", "--naks", "2")
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("10.00"))
        assert terminal.confirm_goods(auth).fate is Fate.COMMITTED
        sim.control_with(scenario="nak-storm", naks=3)
        failed = terminal.authorise(Decimal("10.00"))
    assert (failed.approved, failed.fate) == (False, Fate.DECLINED)
    assert [e.event for e in sim.entries()] == ["authorised", "committed"]


def test_corrupted_crcs_are_nakked_and_the_repeats_accepted(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "corrupted-crc")
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("10.00"))
        assert terminal.confirm_goods(auth).fate is Fate.COMMITTED
    assert list(sim.fates().values()) == ["committed"]


def test_a_line_drop_mid_frame_is_recovered_by_the_repeat(start_simulator: StartSim) -> None:
    sim = start_simulator("--scenario", "line-drop", "--drop-pause", "0.5", "--t2", "1")
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("10.00"))
        assert auth.approved
        assert terminal.confirm_goods(auth).fate is Fate.COMMITTED
    assert list(sim.fates().values()) == ["committed"]


def test_a_slow_terminal_keeps_the_dialogue_alive_with_intermediate_statuses(
    start_simulator: StartSim,
) -> None:
    sim = start_simulator("--scenario", "slow", "--think-time", "2.4")
    with connect(sim, "t4=0.8") as terminal:  # T4 shorter than the whole authorisation
        texts: list[str] = []
        auth = terminal.authorise(Decimal("10.00"), on_status=texts.append)
        assert auth.approved, auth.result_text
        assert texts.count("Подождите") >= 5
        terminal.confirm_goods(auth)
    assert list(sim.fates().values()) == ["committed"]


def test_a_slow_goods_decision_is_bridged_by_re_asks_and_still_commits(start_simulator: StartSim) -> None:
    sim = start_simulator("--reask-delay", "0.5")
    with connect(sim, FAST_GOODS) as terminal:
        auth = terminal.authorise(Decimal("10.00"))
        time.sleep(3)  # the kiosk registers and prints the policy meanwhile
        assert terminal.confirm_goods(auth).fate is Fate.COMMITTED
    assert list(sim.fates().values()) == ["committed"]


def test_too_many_re_asks_make_the_terminal_reverse(start_simulator: StartSim) -> None:
    sim = start_simulator("--reask-delay", "0.3")
    with connect(sim, "goods_timeout=5&goods_asks=2&goods_hold=0.3") as terminal:
        auth = terminal.authorise(Decimal("10.00"))
        time.sleep(2.5)
        done = terminal.confirm_goods(auth)  # too late: the terminal has given up
    assert (done.approved, done.fate) == (False, Fate.REVERSED)
    assert sim.entries()[-1].reason == "max_status_infos"


def test_the_terminal_reverses_by_itself_when_the_kiosk_dies_before_confirming(
    start_simulator: StartSim,
) -> None:
    sim = start_simulator()
    kiosk = textwrap.dedent(
        f"""
        import sys, time
        from decimal import Decimal
        from drivers.payment import open_terminal
        terminal = open_terminal("{sim.url}?goods_timeout=4&goods_hold=1")
        auth = terminal.authorise(Decimal("777.00"))
        print(auth.receipt_no, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", kiosk], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    receipt = proc.stdout.readline().strip()
    proc.kill()  # the kiosk crashes while the customer waits for the policy
    proc.wait()
    proc.stdout.close()
    assert sim.fates() == {receipt: "authorised"}
    entries = sim.wait_for(lambda es: es[-1].event == "reversed", timeout=15)
    assert (entries[-1].event, entries[-1].receipt_no, entries[-1].reason) == ("reversed", receipt, "no_ack")
    assert sim.alive()
    with connect(sim) as terminal:  # the simulator survived the hang-up and serves the next connection
        last = terminal.repeat_receipt()
        assert (last.fate, last.receipt_no, last.amount) == (Fate.REVERSED, receipt, Decimal("777.00"))


def test_a_new_command_after_a_kiosk_restart_settles_the_pending_payment_first(
    start_simulator: StartSim,
) -> None:
    sim = start_simulator()
    kiosk = f"""
from decimal import Decimal
from drivers.payment import open_terminal
t = open_terminal("{sim.url}?goods_timeout=60&goods_hold=3")
print(t.authorise(Decimal("5.00")).receipt_no, flush=True)
import os; os._exit(0)
"""
    out = subprocess.run(
        [sys.executable, "-c", kiosk], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    with connect(sim) as terminal:
        last = terminal.repeat_receipt()  # crash recovery asks straight away
    assert (last.fate, last.receipt_no) == (Fate.REVERSED, out)
    assert sim.fates() == {out: "reversed"}


def test_reversal_refund_end_of_day_diagnosis_and_repeat_receipt(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        first = terminal.authorise(Decimal("100.00"))
        terminal.confirm_goods(first)
        second = terminal.authorise(Decimal("250.50"))
        terminal.confirm_goods(second)
        assert first.receipt_no is not None and second.receipt_no is not None
        reversal = terminal.reverse(first.receipt_no)
        assert (reversal.approved, reversal.fate, reversal.original_trace) == (
            True,
            Fate.REVERSED,
            first.trace,
        )
        again = terminal.reverse(first.receipt_no)
        assert (again.approved, again.result_code) == (False, 0xB4)  # already reversed
        refund = terminal.refund(Decimal("20.00"))
        assert (refund.approved, refund.fate, refund.amount) == (True, Fate.REFUNDED, Decimal("20.00"))
        last = terminal.repeat_receipt()
        assert (last.fate, last.trace) == (Fate.COMMITTED, refund.trace)
        totals = terminal.end_of_day()
        assert (totals.ok, totals.count, totals.amount) == (True, 1, Decimal("250.50"))
        assert [(g.card_type, g.count) for g in totals.groups if g.count] == [("Eurocard", 1)]
        diagnosis = terminal.diagnosis()
        assert diagnosis.ok and diagnosis.receipt_lines
    assert sim.fates() == {
        first.receipt_no: "reversed",
        second.receipt_no: "committed",
        refund.receipt_no: "refunded",
    }
    assert sim.entries()[-1].event == "end_of_day"


def test_the_kiosk_can_abort_a_running_authorisation(start_simulator: StartSim) -> None:
    sim = start_simulator("--think-time", "3")
    with connect(sim) as terminal:
        timer = threading.Timer(0.5, terminal.abort)
        timer.start()
        auth = terminal.authorise(Decimal("10.00"))
        timer.join()
    assert (auth.outcome, auth.result_code) == (Outcome.CANCELLED_BY_CUSTOMER, 0x6C)
    assert [e.event for e in sim.entries()] == ["declined"]


def test_a_full_pan_from_the_terminal_never_leaves_the_driver(start_simulator: StartSim) -> None:
    sim = start_simulator("--full-pan", "--print-mode", "blocks")
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("10.00"))
        done = terminal.confirm_goods(auth)
    assert auth.masked_pan == "************8074"
    assert "5598830000008074" not in repr(auth) + repr(done)
    assert "APPROVED" in done.receipt_lines  # receipt came as a 06 D3 text block


def test_status_reports_a_terminal_that_is_not_ready(start_simulator: StartSim) -> None:
    sim = start_simulator("--terminal-status", "DF")
    with connect(sim) as terminal:
        status = terminal.status()
        assert (status.ready, status.reason, status.status_code) == (False, "out of order", 0xDF)
        sim.control_with(terminal_status="00")
        assert terminal.status().ready


def test_zvt_over_tcp_runs_the_same_dialogue(start_simulator: StartSim) -> None:
    sim = start_simulator(tcp=True)
    with connect(sim) as terminal:
        auth = terminal.authorise(Decimal("42.00"))
        assert terminal.confirm_goods(auth).fate is Fate.COMMITTED
    assert list(sim.fates().values()) == ["committed"]


def test_the_ledger_survives_a_simulator_restart_and_numbering_continues(start_simulator: StartSim) -> None:
    first_sim = start_simulator()
    with connect(first_sim) as terminal:
        first = terminal.authorise(Decimal("10.00"))
        terminal.confirm_goods(first)
    first_sim.stop()
    second_sim = start_simulator()
    with connect(second_sim) as terminal:
        second = terminal.authorise(Decimal("11.00"))
        terminal.confirm_goods(second)
    assert int(second.receipt_no or 0) == int(first.receipt_no or 0) + 1
    assert second_sim.fates() == {first.receipt_no: "committed", second.receipt_no: "committed"}


def test_a_sim_url_starts_the_simulator_as_a_child_and_close_stops_it(tmp_path: object) -> None:
    terminal = open_terminal(f"sim://terminal?think=0.1&ledger={tmp_path}/l.jsonl&goods_timeout=10")
    assert isinstance(terminal, ZvtTerminal)
    child = terminal._on_close.__self__  # type: ignore[union-attr]
    assert child.proc.poll() is None and child.address.startswith("/dev/pts/")
    auth = terminal.authorise(Decimal("3.00"))
    terminal.confirm_goods(auth)
    terminal.close()
    assert child.proc.poll() is not None
