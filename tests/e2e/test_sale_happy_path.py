"""A whole sale on the touchscreen through the real drivers and simulators: every field typed on the
on-screen keyboard, the terminal's texts on the payment screen, the policy printed, a PNG of every screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.bootstrap import Kiosk, build_kiosk
from kiosk.config import load_settings
from kiosk.money import rub
from tests.e2e.harness import Driver

pytestmark = pytest.mark.e2e


@pytest.fixture
def kiosk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kiosk]:
    monkeypatch.setenv("OSAGO_DATA__DIR", str(tmp_path / "data"))
    settings = load_settings()
    built = build_kiosk(settings, terminal_url="sim://terminal?transport=tcp&think=0.05")
    yield built
    built.close()


def test_a_customer_buys_a_policy_by_touch_and_takes_it_with_the_qr(kiosk: Kiosk, drive: Callable[..., Driver]) -> None:
    d = drive(kiosk.service, kiosk.journal)
    assert "от" in d.texts() and "руб." in d.texts()
    d.shot("01-attract")
    d.tap_button("Начать")
    d.wait_screen("vehicle")

    d.fill("vehicle.plate", "А123ВС77")
    d.fill("vehicle.vin", "XTA21099043456789")
    d.fill("vehicle.make", "LADA")
    d.fill("vehicle.model", "VESTA")
    d.fill("vehicle.year", "2019")
    d.fill("vehicle.power", "106")
    d.fill("vehicle.document_number", "7700123456")
    d.shot("02-vehicle")
    d.tap_button("Далее")
    d.wait_screen("owner")

    d.fill("owner.last_name", "Иванов")
    d.fill("owner.first_name", "Иван")
    d.fill("owner.middle_name", "Иванович")
    d.fill("owner.birth_date", "15031980")
    d.fill("owner.passport", "4510123456")
    d.fill("owner.address", "Тверская 7")
    d.pick("owner.region", "Москва (77)")
    d.fill("owner.phone", "9161234567")
    d.shot("03-owner")
    d.tap_button("Далее")
    d.wait_screen("drivers")

    d.tap_button("Как у собственника")
    d.fill("driver.licence", "7701123456")
    d.fill("driver.licence_date", "01062000")
    d.shot("04-drivers")
    d.tap_button("Далее")
    d.wait_screen("period")
    d.shot("05-period")
    d.tap_button("Рассчитать")
    d.wait_screen("quote")
    texts = d.texts()
    assert "КТ (территория)" in texts and "класс 13" in texts
    quoted = next(text for text in texts.split("\n") if text.endswith("руб.") and text[0].isdigit())
    d.shot("06-quote")

    d.tap_button("Оформить")
    d.wait_screen("consent")
    d.tap(d.button("Читать"))
    d.shot("07-consent-document")
    d.tap_button("Закрыть")
    d.wait_modals_closed()
    d.tap_button("Даю согласие на обработку персональных данных")
    d.tap_button("Ознакомлен(а) с Правилами ОСАГО и условиями договора")
    d.shot("08-consent")
    d.tap_button("К оплате")
    d.wait(lambda: d.screen_name in ("payment", "issuing", "done"), 30, "payment")
    d.wait(lambda: d.screen_name in ("issuing", "done"), 60, "issuing")
    if d.screen_name == "issuing":
        d.shot("09-issuing")
    d.wait_screen("done", timeout=90)
    d.shot("10-done")

    texts = d.texts()
    assert "Полис ХХХ" in texts and "Оплата прошла." in texts
    (sale,) = d.sales()
    assert sale.state == "completed"
    assert sale.amount is not None and rub(sale.amount) == quoted, "the card is charged exactly the quoted price"
    assert sale.consent is not None and sale.consent["documents"] == {
        "personal_data": "PD-2026-01",
        "policy_terms": "837-П",
    }
    events = d.events()
    assert events.count("payment.committed") == 1 and "policy.registered" in events and "print.printed" in events
