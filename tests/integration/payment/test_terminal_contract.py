"""The payment terminal contract: what the kiosk relies on from any ZVT terminal.

Runs against the simulator (``sim://terminal``, a child process on a pty) by default. Point it at a
real terminal with ``./scripts/test tests/integration/payment/test_terminal_contract.py
--device-url 'zvt:///dev/ttyUSB0?baudrate=9600'``; present a test card when the terminal asks.
The amount is OSAGO_CONTRACT_AMOUNT (default 1.00); every payment made here is confirmed or refused
and the refused ones must come back reversed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.payment import Fate, Outcome, PaymentTerminal, TerminalBusyError, open_terminal

pytestmark = pytest.mark.integration
AMOUNT = Decimal(os.environ.get("OSAGO_CONTRACT_AMOUNT", "1.00"))


@pytest.fixture
def terminal(device_url: str | None, tmp_path: Path) -> Iterator[PaymentTerminal]:
    url = device_url or f"sim://terminal?ledger={tmp_path / 'ledger.jsonl'}&think=0.2"
    opened = open_terminal(url)
    try:
        yield opened
    finally:
        opened.close()


def test_the_terminal_says_it_is_ready_before_any_money_moves(terminal: PaymentTerminal) -> None:
    status = terminal.status()
    assert status.ready, status.reason


def test_registration_names_the_terminal(terminal: PaymentTerminal) -> None:
    registration = terminal.register()
    assert registration.terminal_id is not None and len(registration.terminal_id) == 8


def test_a_confirmed_payment_is_committed_and_repeat_receipt_says_so(terminal: PaymentTerminal) -> None:
    texts: list[str] = []
    auth = terminal.authorise(AMOUNT, on_status=texts.append)
    assert auth.approved, f"{auth.outcome}: {auth.result_text}"
    assert auth.amount == AMOUNT and auth.fate is Fate.PENDING
    assert auth.receipt_no and auth.trace
    assert auth.masked_pan is None or "*" in auth.masked_pan
    assert texts and all(any("а" <= c.lower() <= "я" for c in text) for text in texts)
    with pytest.raises(TerminalBusyError):
        terminal.authorise(AMOUNT)
    done = terminal.confirm_goods(auth)
    assert (done.approved, done.fate) == (True, Fate.COMMITTED)
    last = terminal.repeat_receipt()
    assert (last.fate, last.trace) == (Fate.COMMITTED, auth.trace)


def test_a_refused_payment_is_reversed_and_repeat_receipt_says_so(terminal: PaymentTerminal) -> None:
    auth = terminal.authorise(AMOUNT)
    assert auth.approved, f"{auth.outcome}: {auth.result_text}"
    done = terminal.refuse_goods(auth)
    assert (done.approved, done.outcome, done.fate) == (False, Outcome.REVERSED, Fate.REVERSED)
    last = terminal.repeat_receipt()
    assert last.fate is Fate.REVERSED


def test_diagnosis_passes(terminal: PaymentTerminal) -> None:
    assert terminal.diagnosis().ok


def test_end_of_day_counts_the_committed_payments(terminal: PaymentTerminal) -> None:
    before = terminal.end_of_day()
    assert before.ok
    auth = terminal.authorise(AMOUNT)
    terminal.confirm_goods(auth)
    totals = terminal.end_of_day()
    assert (totals.ok, totals.count, totals.amount) == (True, 1, AMOUNT)
    assert sum(g.count for g in totals.groups) == 1
