"""Screen presenters without Kivy: forms, steps, the flow on a real sale service with fakes, idle, payment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.payment.codes import Outcome
from kiosk.documents.policy import check_url
from kiosk.money import rub
from kiosk.sale.states import SaleState
from kiosk.validation import FieldError
from tests.unit.sale.conftest import NOW, Rig
from ui.presenters.attract import lowest_premium
from ui.presenters.consent import load_consents
from ui.presenters.idle import IdleAction, IdleWatch
from ui.presenters.payment import PaymentWatch
from ui.presenters.sale import ErrorKind, SaleFlow, issuing_steps, step_of_field
from ui.presenters.steps import MAX_DRIVERS, OTHER_LOCALITY, DriversStep

CONFIG = Path(__file__).resolve().parents[3] / "config"
TODAY = NOW.date()


@pytest.fixture
def flow(rig: Rig) -> SaleFlow:
    return SaleFlow(
        rig.service,
        today=lambda: TODAY,
        earliest_start_days=3,
        consents=load_consents(CONFIG / "consents.toml"),
        offices=["Офис «Центральный»"],
        check_url="https://check.example/check",
    )


def fill(flow: SaleFlow, licence: str = "7701123456") -> None:
    v = flow.vehicle.form
    for name, text in {"vehicle.plate": "а123вс77", "vehicle.vin": "XTA21099043456789", "vehicle.make": "lada",
                       "vehicle.model": "vesta", "vehicle.year": "2019", "vehicle.power": "106",
                       "vehicle.document_number": "77 00 123456"}.items():  # fmt: skip
        v.set(name, text)
    o = flow.owner.form
    for name, text in {"owner.last_name": "иванов", "owner.first_name": "иван", "owner.birth_date": "15031980",
                       "owner.passport": "4510123456", "owner.address": "Тверская 7",
                       "owner.phone": "89161234567"}.items():  # fmt: skip
        o.set(name, text)
    flow.owner.pick_region("77")
    flow.drivers.copy_owner(o)
    flow.drivers.form.set("driver.licence", licence)
    flow.drivers.form.set("driver.licence_date", "01062000")


def test_typing_shows_the_canonical_value_and_a_message_at_once(flow: SaleFlow) -> None:
    form = flow.vehicle.form
    form.focus("vehicle.plate")
    form.type("а12")
    assert form["vehicle.plate"].text == "А12" and not form["vehicle.plate"].error
    form.type("Б")
    assert "Б" in form["vehicle.plate"].error
    form.backspace()
    assert form["vehicle.plate"].error == "" and form.pad == "plate"


def test_next_with_a_missing_field_names_it_and_makes_it_active(flow: SaleFlow) -> None:
    with pytest.raises(FieldError) as caught:
        flow.vehicle.entry()
    assert caught.value.field in ("vehicle.make", flow.vehicle.form.active)
    assert flow.vehicle.form.errors


def test_a_vehicle_needs_a_vin_or_a_body_number(flow: SaleFlow) -> None:
    fill(flow)
    flow.vehicle.form.clear("vehicle.vin")
    with pytest.raises(FieldError, match="VIN или номер кузова"):
        flow.vehicle.entry()


def test_power_in_kilowatts_is_priced_in_horsepower(flow: SaleFlow) -> None:
    fill(flow)
    flow.vehicle.form.set("vehicle.power", "81")
    flow.vehicle.form.set("vehicle.power_unit", "kw")
    assert flow.vehicle.entry().power_hp == Decimal("110.13")


def test_a_region_offers_its_localities_and_other_settlements(flow: SaleFlow) -> None:
    flow.owner.pick_region("02")
    labels = [c.label for c in flow.owner.form["owner.locality"].spec.choices]
    assert "Уфа" in labels and labels[-1] == "Другой населённый пункт"
    flow.owner.pick_region("77")
    assert flow.owner.form["owner.locality"].text == OTHER_LOCALITY


def test_the_driver_list_holds_at_most_five() -> None:
    drivers = DriversStep()
    for _ in range(MAX_DRIVERS - 1):
        drivers.add()
    assert not drivers.can_add
    with pytest.raises(FieldError):
        drivers.add()


def test_the_start_date_is_no_earlier_than_the_rule_allows(flow: SaleFlow) -> None:
    flow.period.form.set("period.start_date", f"{TODAY + dt.timedelta(days=1):%d%m%Y}")
    with pytest.raises(FieldError, match="не раньше"):
        flow.period.values()
    assert flow.period.form["period.start_date"].error


def test_a_priced_sale_explains_every_coefficient_and_each_drivers_kbm(flow: SaleFlow) -> None:
    fill(flow)
    flow.begin()
    fill(flow)
    lines = flow.price()
    assert lines.premium.endswith("руб.")
    assert any(line.startswith("КТ (территория)") for line in lines.lines)
    assert lines.drivers == ("Водитель 1: Иванов: класс 13, КБМ 0,46",)
    assert any(line.startswith("ТБ (базовая ставка): 8\u00a0665,00\u00a0руб.") for line in lines.lines), lines.lines
    assert "подтверждён" in lines.note


def test_consent_records_each_document_with_its_version(flow: SaleFlow, rig: Rig) -> None:
    flow.begin()
    fill(flow)
    flow.price()
    with pytest.raises(Exception, match="Согласие на обработку"):
        flow.give_consent()
    flow.agreed = {"personal_data": True, "policy_terms": True}
    flow.give_consent()
    assert flow.check_ready().ready


def ready_to_pay(flow: SaleFlow) -> None:
    flow.begin()
    fill(flow)
    flow.price()
    flow.agreed = {"personal_data": True, "policy_terms": True}
    flow.give_consent()
    assert flow.check_ready().ready


def test_a_declined_payment_says_no_money_was_taken_and_allows_another_try(flow: SaleFlow, rig: Rig) -> None:
    rig.terminal.script_authorisations(Outcome.DECLINED)
    ready_to_pay(flow)
    texts: list[str] = []
    view = flow.pay(texts.append)
    assert view.kind is ErrorKind.DECLINED and view.retry and "не списаны" in view.money
    assert texts and flow.progress() is SaleState.PAYMENT_DECLINED


def test_a_paid_sale_ends_on_the_done_screen_with_a_check_link(flow: SaleFlow) -> None:
    ready_to_pay(flow)
    view = flow.pay(lambda _t: None)
    assert view.screen == "done" and view.policy
    series, number = view.policy.split(" ")
    # The same link the printed policy's QR carries (kiosk.documents.policy.check_url).
    assert flow.check_link(view.policy) == check_url("https://check.example/check", series, number)


def test_reset_forgets_everything_the_customer_typed(flow: SaleFlow) -> None:
    flow.begin()
    fill(flow)
    flow.reset()
    typed = [f.text for form in (flow.owner.form, flow.drivers.form) for f in form.fields.values()]
    assert not any(typed) and flow.sale_id is None and flow.vehicle.form["vehicle.plate"].text == ""


def test_field_paths_lead_back_to_their_step() -> None:
    assert step_of_field("drivers[1].licence_date") == "drivers"
    assert step_of_field("territory.locality") == "owner"
    assert step_of_field("date") == "period"


def test_the_idle_watch_asks_then_resets_but_never_while_suspended() -> None:
    watch = IdleWatch(idle=60, warning=20)
    watch.arm(0)
    assert watch.tick(59) is IdleAction.NONE
    assert watch.tick(60) is IdleAction.ASK and watch.seconds_left(60) == 20
    assert watch.tick(70) is IdleAction.NONE
    assert watch.tick(80) is IdleAction.RESET and not watch.armed
    watch.arm(100)
    watch.suspend("payment")
    assert watch.tick(10_000) is IdleAction.NONE
    watch.resume("payment", 10_000)
    assert watch.tick(10_059) is IdleAction.NONE and watch.tick(10_060) is IdleAction.ASK


def test_the_payment_countdown_expires_once() -> None:
    watch = PaymentWatch(seconds=30)
    watch.start(100)
    watch.add("Вставьте карту")
    watch.add("Вставьте карту")
    assert watch.texts == ["Вставьте карту"] and watch.left(110) == 20
    assert not watch.expired(129) and watch.expired(130) and not watch.expired(131)


def test_issuing_progress_follows_the_sale_state() -> None:
    assert [s for _, s in issuing_steps(SaleState.REGISTERING)] == ["done", "now", "todo", "todo"]
    assert [s for _, s in issuing_steps(SaleState.COMPLETED)] == ["done"] * 4


def test_the_attract_price_is_the_lowest_possible_premium_in_whole_roubles(rig: Rig) -> None:
    day = TODAY + dt.timedelta(days=3)
    lowest = lowest_premium(rig.tariffs, day)
    assert lowest is not None and lowest == lowest.to_integral_value()
    assert rub(lowest, kopecks=False).endswith("руб.")


def test_consent_documents_must_include_the_separate_personal_data_consent(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('schema = 1\n[[documents]]\nkey = "policy_terms"\ntitle = "t"\nversion = "1"\ntext = "x"\n')
    with pytest.raises(ValueError, match="personal_data"):
        load_consents(path)


def test_a_policy_the_insurer_would_not_register_is_a_server_error_with_the_payment_reversed(
    flow: SaleFlow, rig: Rig
) -> None:
    ready_to_pay(flow)
    rig.insurer.faults.add("register")
    view = flow.pay(lambda _t: None)
    assert view.screen == "error" and view.kind is ErrorKind.SERVER and not view.retry
    assert "деньги не списаны" in view.money
