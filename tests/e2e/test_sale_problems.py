"""What the customer sees when something goes wrong — and that the journal agrees about the money."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.payment.codes import Outcome
from drivers.payment.recorder import RecordingTerminal
from drivers.printer.recorder import PAPER_OUT, RecordingPrinter
from tests.e2e.harness import Driver, fill_customer
from tests.e2e.rigs import WaitingTerminal, fake_service

pytestmark = pytest.mark.e2e


def to_consent(d: Driver) -> None:
    """From the attract screen to the consent screen, tapping through the filled-in steps."""
    d.tap_button("Начать")
    d.wait_screen("vehicle")
    fill_customer(d.app.flow)
    for screen in ("owner", "drivers", "period"):
        d.tap_button("Далее")
        d.wait_screen(screen)
    d.tap_button("Рассчитать")
    d.wait_screen("quote")
    d.tap_button("Оформить")
    d.wait_screen("consent")
    d.tap_button("Даю согласие на обработку персональных данных")
    d.tap_button("Ознакомлен(а) с Правилами ОСАГО и условиями договора")
    d.tap_button("К оплате")


def test_a_declined_card_says_no_money_was_taken_and_offers_another_try(
    tmp_path: Path, drive: Callable[..., Driver]
) -> None:
    terminal = RecordingTerminal()
    terminal.script_authorisations(Outcome.DECLINED)
    service = fake_service(tmp_path, terminal=terminal)
    d = drive(service, service.journal)
    to_consent(d)
    d.wait_screen("error")
    texts = d.texts()
    assert "Оплата не прошла" in texts and "Деньги не списаны." in texts
    assert d.button("Попробовать ещё раз")
    d.shot("error-declined")
    (sale,) = d.sales()
    assert sale.state == "payment_declined" and d.events() == ["payment.declined"]
    d.tap_button("На главную")
    d.wait_screen("attract")
    assert d.sales()[0].state == "abandoned" and d.events()[-1] == "sale.abandoned"


def test_the_customer_cancels_at_the_terminal_and_nothing_is_charged(
    tmp_path: Path, drive: Callable[..., Driver]
) -> None:
    terminal = WaitingTerminal()
    service = fake_service(tmp_path, terminal=terminal)
    d = drive(service, service.journal)
    to_consent(d)
    d.wait(lambda: d.screen_name == "payment" and "Вставьте или приложите карту" in d.texts(), 20, "card prompt")
    assert "Осталось" in d.texts()
    d.shot("payment")
    d.tap_button("Отмена")
    d.wait_screen("error")
    assert "Деньги не списаны." in d.texts()
    d.shot("error-cancelled")
    assert terminal.aborted.is_set()
    (sale,) = d.sales()
    assert sale.state == "payment_declined"
    assert d.payment_outcomes() == ["cancelled_by_customer"] and d.events() == ["payment.declined"]


def test_a_printer_out_of_paper_stops_the_sale_before_any_money_moves(
    tmp_path: Path, drive: Callable[..., Driver]
) -> None:
    service = fake_service(tmp_path, printer=RecordingPrinter(status=PAPER_OUT))
    d = drive(service, service.journal)
    to_consent(d)
    d.wait_screen("error")
    texts = d.texts()
    assert "Принтер не готов" in texts and "Оплата не проводилась — деньги не списаны." in texts
    d.shot("error-printer")
    (sale,) = d.sales()
    assert sale.state == "abandoned" and "payment.authorised" not in d.events()
    assert service.terminal.call_names.count("authorise") == 0


def test_with_the_insurer_down_the_customer_files_an_application_and_pays_nothing(
    tmp_path: Path, drive: Callable[..., Driver]
) -> None:
    printer = RecordingPrinter()
    service = fake_service(tmp_path, printer=printer, faults={"unavailable"})
    d = drive(service, service.journal)
    to_consent(d)
    d.wait_screen("application")
    assert "Деньги не списываются." in d.texts()
    d.shot("application-offer")
    d.tap_button("Офис «Северный», г. Москва, Дмитровское ш., д. 10")
    d.tap_button("Подать заявление")
    d.wait(lambda: "Заявление принято" in d.texts(), 20, "application accepted")
    d.shot("application-done")
    (sale,) = d.sales()
    assert sale.state == "application_issued" and "application.submitted" in d.events()
    assert "Деньги не списывались." in d.texts()
    assert len(printer.jobs) == 1 and service.terminal.call_names.count("authorise") == 0


def test_an_idle_customer_is_asked_then_everything_typed_is_wiped(tmp_path: Path, drive: Callable[..., Driver]) -> None:
    service = fake_service(tmp_path)
    d = drive(service, service.journal)
    d.tap_button("Начать")
    d.wait_screen("vehicle")
    d.fill("vehicle.plate", "А123ВС77")
    d.app.idle.last_activity -= d.app.settings.idle_seconds + 1  # the customer walked away
    d.wait(lambda: "Вы ещё здесь?" in d.texts(), 5, "still here")
    d.shot("idle-still-here")
    d.app.idle.last_activity -= d.app.settings.idle_warning_seconds
    d.wait_screen("attract", timeout=5)
    flow = d.app.flow
    assert flow.vehicle.form["vehicle.plate"].text == "" and flow.sale_id is None
    assert d.sales()[0].state == "abandoned"


def test_idle_never_interrupts_a_payment(tmp_path: Path, drive: Callable[..., Driver]) -> None:
    terminal = WaitingTerminal()
    service = fake_service(tmp_path, terminal=terminal)
    d = drive(service, service.journal)
    to_consent(d)
    d.wait(lambda: d.screen_name == "payment" and "Вставьте или приложите карту" in d.texts(), 20, "card prompt")
    d.app.idle.last_activity -= 10_000
    d.frames(10)
    assert d.screen_name == "payment" and "Вы ещё здесь?" not in d.texts()
    d.tap_button("Отмена")
    d.wait_screen("error")


def test_the_customer_switches_to_english_and_back(tmp_path: Path, drive: Callable[..., Driver]) -> None:
    service = fake_service(tmp_path)
    d = drive(service, service.journal)
    d.tap_button("EN")
    assert d.button("Start") and "from" in d.texts()
    d.shot("attract-en")
    d.tap_button("Start")
    d.wait_screen("vehicle")
    assert "1. Vehicle" in d.texts() and d.button("Next")
    d.tap_button("RU")
    assert d.button("Далее") and "1. Автомобиль" in d.texts()


def test_back_from_the_first_step_ends_the_sale_and_the_next_customer_gets_russian(
    tmp_path: Path, drive: Callable[..., Driver]
) -> None:
    service = fake_service(tmp_path)
    d = drive(service, service.journal)
    d.tap_button("EN")
    d.tap_button("Start")
    d.wait_screen("vehicle")
    d.fill("vehicle.plate", "А123ВС77")
    d.tap_button("Back")
    d.wait_screen("attract")
    assert d.app.flow.vehicle.form["vehicle.plate"].text == "" and d.sales()[0].state == "abandoned"
    assert d.button("Начать")
