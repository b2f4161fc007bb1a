"""Recovery after a crash at every step of a sale, on fakes (the real SIGKILL test is in integration)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import select

from drivers.payment import Fate, TerminalError
from drivers.printer.recorder import PAPER_OUT
from kiosk.journal.models import OutboxEvent, SaleRecord
from kiosk.sale.recovery import recover
from kiosk.sale.states import SaleState
from tests.unit.sale.conftest import Rig
from tests.unit.sale.test_service import customer, ready_sale


class Crash(Exception):
    """The kiosk process dies here."""


def crash_at(rig: Rig, step: str) -> None:
    def checkpoint(name: str) -> None:
        if name == step:
            raise Crash(step)

    rig.checkpoint = checkpoint
    rig.service = rig._build()


def pay_and_crash(rig: Rig, step: str, *, paper_out: bool = False) -> str:
    sale_id = ready_sale(rig)
    crash_at(rig, step)
    if paper_out:
        rig.printer.script_after_print(PAPER_OUT)
    with pytest.raises(Crash):
        rig.service.pay(sale_id, action_id=str(uuid.uuid4()))
    return sale_id


def terminal_reverses_on_its_own(rig: Rig) -> None:
    """What a ZVT terminal does with an authorisation nobody confirms."""
    last = rig.terminal.repeat_receipt()
    if last.fate is Fate.PENDING:
        rig.terminal.remember(dataclasses.replace(last, fate=Fate.REVERSED))


def final(rig: Rig, sale_id: str) -> SaleRecord:
    with rig.journal.session() as session:
        sale = session.get(SaleRecord, sale_id)
        assert sale is not None
        _ = (sale.policy, sale.print_jobs, sale.payments)
        return sale


@pytest.mark.parametrize(
    "step",
    [
        "authorised_by_terminal",
        "registering",
        "registered_by_insurer",
        "printing_policy",
        "printed_policy",
        "confirming",
    ],
)
def test_crash_before_the_commit_ends_with_the_payment_reversed_and_no_valid_policy(rig: Rig, step: str) -> None:
    sale_id = pay_and_crash(rig, step)
    terminal_reverses_on_its_own(rig)

    results = recover(rig.restart())

    sale = final(rig, sale_id)
    assert [r.after for r in results] == [SaleState.REVERSED]
    assert sale.state == "reversed"
    assert list(rig.terminal.book.values()) == [Fate.REVERSED]
    if rig.insurer.registered:
        registered = rig.insurer.registered[0]
        assert (registered["series"], registered["number"]) in rig.insurer.cancelled
        assert sale.policy is not None and sale.policy.status == "cancelled"
    assert all(job.status in ("spoiled", "failed") for job in sale.print_jobs)


def test_crash_after_the_terminal_committed_completes_the_sale(rig: Rig) -> None:
    sale_id = pay_and_crash(rig, "confirmed_by_terminal")

    results = recover(rig.restart())

    assert [r.after for r in results] == [SaleState.COMPLETED]
    assert final(rig, sale_id).state == "completed"
    assert list(rig.terminal.book.values()) == [Fate.COMMITTED]
    assert rig.insurer.cancelled == set()


def test_crash_before_the_terminal_saw_the_payment_abandons_the_sale(rig: Rig) -> None:
    sale_id = pay_and_crash(rig, "payment_started")
    # The terminal remembers nothing (its repeat receipt fails), as after a power cut before the command.

    results = recover(rig.restart())

    assert [r.after for r in results] == [SaleState.ABANDONED]
    assert final(rig, sale_id).payments[-1].status == "declined"
    assert rig.terminal.book == {}


def test_a_previous_sales_transaction_is_not_taken_for_the_crashed_one(rig: Rig) -> None:
    first = ready_sale(rig)
    rig.service.pay(first, action_id=str(uuid.uuid4()))
    sale_id = pay_and_crash(rig, "payment_started")

    results = recover(rig.restart())

    assert final(rig, first).state == "completed"
    assert [r.after for r in results] == [SaleState.ABANDONED]
    assert final(rig, sale_id).payments[-1].trace is None


def test_crash_while_refusing_the_goods_ends_reversed(rig: Rig) -> None:
    sale_id = pay_and_crash(rig, "refusing", paper_out=True)
    terminal_reverses_on_its_own(rig)

    recover(rig.restart())

    sale = final(rig, sale_id)
    assert sale.state == "reversed"
    assert sale.policy is not None and sale.policy.status == "cancelled"
    assert [job.status for job in sale.print_jobs] == ["spoiled"]


def test_a_terminal_that_cannot_say_what_happened_leaves_the_sale_flagged_not_dropped(rig: Rig) -> None:
    sale_id = pay_and_crash(rig, "confirming")
    silent = rig.terminal
    original = silent.repeat_receipt

    def broken() -> object:
        raise TerminalError("cable unplugged")

    silent.repeat_receipt = broken  # type: ignore[method-assign,assignment]
    results = recover(rig.restart())
    silent.repeat_receipt = original  # type: ignore[method-assign]

    sale = final(rig, sale_id)
    assert [r.after for r in results] == [SaleState.FLAGGED]
    assert sale.state == "flagged" and sale.flag_reason
    with rig.journal.session() as session:
        assert "sale.flagged" in session.scalars(select(OutboxEvent.kind)).all()


def test_a_flagged_sale_is_not_touched_by_the_next_recovery(rig: Rig) -> None:
    test_a_terminal_that_cannot_say_what_happened_leaves_the_sale_flagged_not_dropped(rig)

    assert recover(rig.restart()) == []


def test_a_commit_the_kiosk_never_sent_is_flagged(rig: Rig) -> None:
    sale_id = pay_and_crash(rig, "printing_policy")
    last = rig.terminal.repeat_receipt()
    rig.terminal.remember(dataclasses.replace(last, fate=Fate.COMMITTED))

    results = recover(rig.restart())

    assert [r.after for r in results] == [SaleState.FLAGGED]
    assert "без подтверждения" in (final(rig, sale_id).flag_reason or "")


@pytest.mark.parametrize("steps", [0, 1, 2], ids=["created", "quoted", "consented"])
def test_an_unpaid_sale_left_by_a_crash_is_abandoned(rig: Rig, steps: int) -> None:
    service = rig.service
    sale_id = service.start_sale(action_id=str(uuid.uuid4()))
    if steps >= 1:
        service.enter(sale_id, customer(), action_id=str(uuid.uuid4()))
    if steps >= 2:
        service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=str(uuid.uuid4()))

    results = recover(rig.restart())

    assert [r.after for r in results] == [SaleState.ABANDONED]


def test_an_application_interrupted_before_its_letter_is_still_filed(rig: Rig) -> None:
    sale_id = rig.service.start_sale(action_id=str(uuid.uuid4()))
    rig.service.enter(sale_id, customer(), action_id=str(uuid.uuid4()))
    rig.service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=str(uuid.uuid4()))
    crash_at(rig, "printing_letter")
    with pytest.raises(Crash):
        rig.service.apply(sale_id, action_id=str(uuid.uuid4()))

    results = recover(rig.restart())

    assert [(r.after, r.note) for r in results] == [
        (SaleState.APPLICATION_ISSUED, "application filed; letter not printed")
    ]


def test_an_annulment_the_insurer_refused_earlier_is_retried_at_start(rig: Rig) -> None:
    sale_id = pay_and_crash(rig, "confirming")
    terminal_reverses_on_its_own(rig)
    rig.insurer.faults.add("cancel")
    recover(rig.restart())
    assert final(rig, sale_id).policy.status == "cancelling"  # type: ignore[union-attr]

    rig.insurer.faults.discard("cancel")
    recover(rig.restart())

    assert final(rig, sale_id).policy.status == "cancelled"  # type: ignore[union-attr]
