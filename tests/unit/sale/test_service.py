"""The sale workflow on fakes: where the money is after every path."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from drivers.payment import Fate, Outcome
from drivers.printer.compose import plain_text
from drivers.printer.recorder import COVER, PAPER_OUT
from kiosk.journal.models import OutboxEvent, PersonalData, SaleEvent, SaleRecord
from kiosk.money import rub
from kiosk.sale.model import SaleInput
from kiosk.sale.samples import sample_customer
from kiosk.sale.service import DuplicateActionError, KioskBusyError, SaleError
from kiosk.sale.states import SaleState
from kiosk.validation import FieldError
from tests.unit.sale.conftest import MOSCOW, NOW, Rig

START = NOW.astimezone(MOSCOW).date() + dt.timedelta(days=3)


def act() -> str:
    return str(uuid.uuid4())


def customer(seed: int = 1) -> SaleInput:
    return sample_customer(random.Random(seed), START)


def ready_sale(rig: Rig, data: SaleInput | None = None) -> str:
    """A sale priced, consented and past a successful preflight."""
    service = rig.service
    sale_id = service.start_sale(action_id=act())
    service.enter(sale_id, data or customer(), action_id=act())
    service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())
    preflight = service.preflight(sale_id)
    assert preflight.ready, preflight.message
    return sale_id


def states(rig: Rig, sale_id: str) -> list[str]:
    with rig.journal.session() as session:
        return [
            e.to_state
            for e in session.scalars(select(SaleEvent).where(SaleEvent.sale_id == sale_id).order_by(SaleEvent.id))
        ]


def outbox_kinds(rig: Rig) -> list[str]:
    with rig.journal.session() as session:
        return [e.kind for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]


def test_paid_sale_commits_only_after_the_policy_is_registered_and_printed(rig: Rig) -> None:
    sale_id = ready_sale(rig)

    outcome = rig.service.pay(sale_id, action_id=act())

    assert outcome.state is SaleState.COMPLETED
    assert outcome.policy is not None and outcome.policy.startswith("ХХХ ")
    assert rig.terminal.call_names[-2:] == ["authorise", "confirm_goods"]
    assert [job.document.kind for job in rig.printer.jobs] == ["policy", "memo"]
    assert states(rig, sale_id)[-9:] == [
        "ready_to_pay", "payment_started", "authorised", "registering", "registered", "printing", "printed", "confirming",
        "completed",
    ]  # fmt: skip
    assert list(rig.terminal.book.values()) == [Fate.COMMITTED]
    assert {"payment.authorised", "policy.registered", "payment.committed", "sale.completed"} <= set(outbox_kinds(rig))


def test_each_intent_state_is_journaled_before_the_device_call_it_names(rig: Rig) -> None:
    seen: dict[str, str] = {}

    def checkpoint(name: str) -> None:
        with rig.journal.session() as session:
            seen[name] = session.scalars(select(SaleRecord.state)).one()

    rig.checkpoint = checkpoint
    rig.service = rig._build()
    sale_id = ready_sale(rig)

    rig.service.pay(sale_id, action_id=act())

    assert seen["payment_started"] == "payment_started"
    assert seen["registering"] == "registering"
    assert seen["printing_policy"] == "printing"
    assert seen["confirming"] == "confirming"


def test_the_printed_policy_shows_the_premium_the_customer_was_quoted(rig: Rig) -> None:
    sale_id = rig.service.start_sale(action_id=act())
    view = rig.service.enter(sale_id, customer(), action_id=act())
    rig.service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())
    rig.service.preflight(sale_id)

    rig.service.pay(sale_id, action_id=act())

    charged = next(args[0] for name, args in rig.terminal.calls if name == "authorise")
    printed = plain_text(rig.printer.jobs[0].document, rig.printer.profile)
    assert charged == view.quote.premium
    assert rub(view.quote.premium).replace("\u00a0", " ") in printed.replace("\u00a0", " ")


@pytest.mark.parametrize(
    "outcome", [Outcome.DECLINED, Outcome.CANCELLED_BY_CUSTOMER, Outcome.CARD_ERROR, Outcome.TIMEOUT]
)
def test_a_failed_authorisation_takes_no_money_and_the_customer_may_try_again(rig: Rig, outcome: Outcome) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_authorisations(outcome)

    first = rig.service.pay(sale_id, action_id=act())
    second = rig.service.pay(sale_id, action_id=act())

    assert first.state is SaleState.PAYMENT_DECLINED
    assert "не списаны" in first.money
    assert second.state is SaleState.COMPLETED
    assert list(rig.terminal.book.values()) == [Fate.COMMITTED]


def test_registration_failure_after_payment_makes_the_terminal_reverse(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.insurer.faults.add("register")

    outcome = rig.service.pay(sale_id, action_id=act())

    assert outcome.state is SaleState.REVERSED
    assert "не списаны" in outcome.money
    assert rig.terminal.call_names[-2:] == ["authorise", "refuse_goods"]
    assert list(rig.terminal.book.values()) == [Fate.REVERSED]
    assert rig.printer.jobs == []
    assert "payment.reversed" in outbox_kinds(rig)


def test_paper_running_out_during_the_policy_reverses_the_payment_and_annuls_the_policy(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.printer.script_after_print(PAPER_OUT)

    outcome = rig.service.pay(sale_id, action_id=act())

    assert outcome.state is SaleState.REVERSED
    assert list(rig.terminal.book.values()) == [Fate.REVERSED]
    registered = rig.insurer.registered[0]
    assert (registered["series"], registered["number"]) in rig.insurer.cancelled
    with rig.journal.session() as session:
        sale = session.get(SaleRecord, sale_id)
        assert sale is not None and sale.policy is not None
        assert sale.policy.status == "cancelled"
        assert [job.status for job in sale.print_jobs] == ["spoiled"]
    assert {"print.spoiled", "policy.cancel_requested", "policy.cancelled"} <= set(outbox_kinds(rig))


def test_an_unreachable_insurer_at_annulment_leaves_the_request_for_the_server(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.printer.script_after_print(PAPER_OUT)
    original = rig.insurer.cancel_policy

    def down(*args: object, **kw: object) -> None:
        from kiosk.insurer import GatewayUnavailableError

        raise GatewayUnavailableError("down")

    rig.insurer.cancel_policy = down  # type: ignore[method-assign]
    outcome = rig.service.pay(sale_id, action_id=act())
    rig.insurer.cancel_policy = original  # type: ignore[method-assign]

    assert outcome.state is SaleState.REVERSED
    with rig.journal.session() as session:
        sale = session.get(SaleRecord, sale_id)
        assert sale is not None and sale.policy is not None and sale.policy.status == "cancelling"
    assert "policy.cancel_requested" in outbox_kinds(rig)


def test_a_lost_commit_answer_is_settled_by_asking_the_terminal(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)
    original = rig.terminal.repeat_receipt

    def repeat() -> object:
        last = original()
        from dataclasses import replace

        return replace(last, fate=Fate.COMMITTED)  # type: ignore[type-var]

    rig.terminal.repeat_receipt = repeat  # type: ignore[method-assign,assignment]

    outcome = rig.service.pay(sale_id, action_id=act())

    assert outcome.state is SaleState.COMPLETED


def test_a_terminal_silent_after_the_goods_were_confirmed_and_then_reversing_annuls_the_policy(rig: Rig) -> None:
    # PA00P015 §2.2.8: no completion after our 80 00 00 is UNKNOWN; Repeat Receipt then says "reversed".
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)
    original = rig.terminal.repeat_receipt

    def repeat() -> object:
        from dataclasses import replace

        return replace(original(), fate=Fate.REVERSED, approved=False)  # type: ignore[type-var]

    rig.terminal.repeat_receipt = repeat  # type: ignore[method-assign,assignment]

    outcome = rig.service.pay(sale_id, action_id=act())

    assert outcome.state is SaleState.REVERSED
    assert "policy.cancel_requested" in outbox_kinds(rig)


def test_a_commit_the_terminal_never_resolves_is_flagged_for_the_technician(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)

    outcome = rig.service.pay(sale_id, action_id=act())

    assert outcome.state is SaleState.FLAGGED
    assert "чек терминала" in outcome.money
    assert "sale.flagged" in outbox_kinds(rig)


def test_a_double_tap_on_pay_is_ignored(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    action = act()
    rig.service.pay(sale_id, action_id=action)

    with pytest.raises(DuplicateActionError):
        rig.service.pay(sale_id, action_id=action)

    assert rig.terminal.call_names.count("authorise") == 1


def test_a_double_tap_on_start_returns_the_same_sale(rig: Rig) -> None:
    action = act()

    assert rig.service.start_sale(action_id=action) == rig.service.start_sale(action_id=action)


def test_paying_twice_for_a_completed_sale_is_refused(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.service.pay(sale_id, action_id=act())

    with pytest.raises(SaleError):
        rig.service.pay(sale_id, action_id=act())

    assert rig.terminal.call_names.count("authorise") == 1


def test_a_new_customer_ends_the_previous_unpaid_sale(rig: Rig) -> None:
    first = rig.service.start_sale(action_id=act())
    rig.service.enter(first, customer(), action_id=act())

    rig.service.start_sale(action_id=act())

    assert rig.service.outcome(first).state is SaleState.ABANDONED


def test_no_new_customer_while_a_payment_is_unresolved(rig: Rig) -> None:
    sale_id = ready_sale(rig)

    class Crash(Exception):
        pass

    def crash(name: str) -> None:
        if name == "registering":
            raise Crash

    rig.checkpoint = crash
    rig.service = rig._build()
    with pytest.raises(Crash):
        rig.service.pay(sale_id, action_id=act())

    with pytest.raises(KioskBusyError):
        rig.service.start_sale(action_id=act())


def test_preflight_refuses_payment_while_the_printer_cannot_print(rig: Rig) -> None:
    sale_id = rig.service.start_sale(action_id=act())
    rig.service.enter(sale_id, customer(), action_id=act())
    rig.service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())
    rig.printer.current = COVER

    preflight = rig.service.preflight(sale_id)

    assert not preflight.ready and not preflight.can_apply
    assert "Принтер" in preflight.message
    with pytest.raises(SaleError):
        rig.service.pay(sale_id, action_id=act())
    assert "authorise" not in rig.terminal.call_names


def test_unreachable_insurer_offers_the_application_path_without_money(rig: Rig) -> None:
    sale_id = rig.service.start_sale(action_id=act())
    rig.service.enter(sale_id, customer(), action_id=act())
    rig.service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())
    rig.insurer.faults.add("unavailable")

    preflight = rig.service.preflight(sale_id)
    outcome = rig.service.apply(sale_id, action_id=act())

    assert not preflight.ready and preflight.can_apply
    assert outcome.state is SaleState.APPLICATION_ISSUED
    assert outcome.application is not None and outcome.application.isascii()
    assert outcome.money == "Деньги не списывались."
    assert "authorise" not in rig.terminal.call_names
    assert [job.document.kind for job in rig.printer.jobs] == ["letter"]
    assert "application.submitted" in outbox_kinds(rig)


def test_without_confirmed_kbm_the_sale_cannot_be_paid_but_can_be_applied_for(rig: Rig) -> None:
    rig.insurer.faults.add("kbm")
    sale_id = rig.service.start_sale(action_id=act())
    view = rig.service.enter(sale_id, customer(), action_id=act())
    rig.service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())

    preflight = rig.service.preflight(sale_id)

    assert view.kbm_verified is False
    assert not preflight.ready and preflight.can_apply
    assert "КБМ" in preflight.message


def test_kbm_classes_come_from_the_insurers_lookup(rig: Rig) -> None:
    data = customer(3)
    assert data.drivers is not None
    data = SaleInput.from_dict(
        {**data.to_dict(), "drivers": [{**data.drivers[0].to_dict(), "licence": "77 01 123456"}]}
    )
    sale_id = rig.service.start_sale(action_id=act())

    view = rig.service.enter(sale_id, data, action_id=act())

    assert view.kbm_verified and view.kbm_classes == ("13",)
    assert view.quote.factor("KBM").value == Decimal("0.46")


def test_a_start_date_before_the_earliest_allowed_is_refused(rig: Rig) -> None:
    data = SaleInput.from_dict({**customer().to_dict(), "start_date": (START - dt.timedelta(days=1)).isoformat()})
    sale_id = rig.service.start_sale(action_id=act())

    with pytest.raises(FieldError) as error:
        rig.service.enter(sale_id, data, action_id=act())

    assert error.value.field == "period.start_date"


def test_personal_data_is_stored_only_encrypted(rig: Rig) -> None:
    data = customer()
    sale_id = rig.service.start_sale(action_id=act())
    rig.service.enter(sale_id, data, action_id=act())

    raw = rig.path.read_bytes() + (rig.path.parent / "journal.db-wal").read_bytes()

    assert data.owner.last_name.encode() not in raw
    assert (data.owner.passport or "").encode() not in raw
    with rig.journal.session() as session:
        stored = session.get(PersonalData, sale_id)
        assert stored is not None and stored.ciphertext is not None
        assert SaleInput.from_dict(rig.cipher.decrypt(stored.ciphertext)).owner == data.owner


def test_an_application_the_insurer_refuses_is_reported_without_money_moving(rig: Rig) -> None:
    sale_id = rig.service.start_sale(action_id=act())
    rig.service.enter(sale_id, customer(), action_id=act())
    rig.service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())

    def refuse(*args: object, **kw: object) -> object:
        from kiosk.insurer import GatewayRejectedError

        raise GatewayRejectedError("401")

    rig.insurer.submit_application = refuse  # type: ignore[method-assign,assignment]

    with pytest.raises(SaleError, match="Деньги не списывались"):
        rig.service.apply(sale_id, action_id=act())
    assert "authorise" not in rig.terminal.call_names


def test_every_end_of_a_sale_is_logged_with_what_happened_to_the_money_and_no_personal_data(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    data = customer()
    caplog.set_level("INFO", logger="kiosk.sale.service")
    paid = ready_sale(rig, data)
    rig.service.pay(paid, action_id=act())
    rig.terminal.script_authorisations(Outcome.DECLINED)
    declined = ready_sale(rig, data)
    rig.service.pay(declined, action_id=act())
    rig.printer.script_after_print(PAPER_OUT)
    reversed_ = ready_sale(rig, data)
    rig.service.pay(reversed_, action_id=act())
    left = rig.service.start_sale(action_id=act())
    rig.service.abandon(left, "customer left")

    lines = {record.getMessage() for record in caplog.records}
    assert any(line.startswith(f"sale {paid} ended completed") and "Оплата прошла" in line for line in lines)
    assert any(line.startswith(f"sale {declined} ended payment_declined") and "не списаны" in line for line in lines)
    assert any(line.startswith(f"sale {reversed_} ended reversed") and "Платёж отменён" in line for line in lines)
    assert f"sale {left} abandoned before payment (customer left), no money moved" in lines
    text = "\n".join(lines)
    for personal in (data.owner.last_name, data.owner.passport, data.vehicle.document_number):
        assert personal and personal not in text
