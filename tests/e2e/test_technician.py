"""The technician at the touchscreen: service card, PIN pad, traffic-light tiles, a test print and an
end-of-day on the real drivers against the simulators — and nothing of it for anyone without the card.

The card goes into ``sim://cardreader`` (our applet behind the vpcd socket protocol) by default; the
``serial_only`` test at the end runs the same path through a real pcscd + vpcd + our virtual card and
skips with the reason where PC/SC cannot run.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from drivers.cardreader.simcard import SimulatedServiceCard
from drivers.cardreader.simulator import SimulatedReader
from drivers.payment import Fate
from drivers.payment.recorder import RecordingTerminal
from kiosk.bootstrap import Kiosk, build_kiosk, diagnostics, journal_audit, service_mode
from kiosk.config import KioskSettings, load_settings
from kiosk.diagnostics import Diagnostics
from kiosk.journal.models import JournalEntry, OutboxEvent, SaleRecord
from kiosk.money import rub
from kiosk.sale.samples import sample_customer
from kiosk.service_access import AccessState, MemoryAttemptStore, Phase, ServiceAccess, derive_card_key
from kiosk.service_mode import ServiceMode
from tests.e2e.harness import Driver
from tests.e2e.rigs import MOSCOW, fake_service
from tests.support.clock import FakeClock
from tests.support.kiosk_processes import write_config
from tests.support.pcscd import PcscdService
from tests.support.technician import CARD_ID, PIN, PIN_HASH
from tests.support.virtual_card import VirtualCard
from ui.main import build_desk
from ui.presenters.technician import TechnicianDesk

pytestmark = pytest.mark.e2e

MASTER_KEY = bytes.fromhex("5a" * 32)


@dataclass
class Technician:
    """A kiosk on the simulators with its service card reader, and the means to put a card in."""

    settings: KioskSettings
    kiosk: Kiosk
    mode: ServiceMode
    desk: Any
    listeners: list[Callable[[AccessState], None]] = field(default_factory=list)

    def card(self, key: bytes = MASTER_KEY) -> SimulatedServiceCard:
        return SimulatedServiceCard(CARD_ID, derive_card_key(key, CARD_ID))

    def entries(self) -> list[tuple[str, str]]:
        with self.kiosk.journal.session() as session:
            rows = session.scalars(select(JournalEntry).order_by(JournalEntry.id)).all()
            return [(row.actor, row.action) for row in rows]

    def events(self) -> list[str]:
        with self.kiosk.journal.session() as session:
            return list(session.scalars(select(OutboxEvent.kind).order_by(OutboxEvent.id)).all())

    def printed(self) -> list[str]:
        jobs = self.settings.data_dir / "printer-jobs.jsonl"
        return [json.loads(line)["text"] for line in jobs.read_text(encoding="utf-8").splitlines()]


def technician_config(tmp_path: Path, reader_url: str = "sim://cardreader") -> KioskSettings:
    path = write_config(tmp_path)
    key = tmp_path / "service-card.key"
    key.write_text(MASTER_KEY.hex() + "\n", encoding="ascii")
    key.chmod(0o600)
    usb = tmp_path / "usb"
    usb.mkdir()
    with path.open("a", encoding="utf-8") as out:
        out.write(
            f'[cardreader]\nurl = "{reader_url}"\n'
            f'[service_card]\nmaster_key_file = "{key}"\nidle_minutes = 10\n'
            f'[[service_card.cards]]\nid = "{CARD_ID}"\npin = "{PIN_HASH}"\n'
            f'[diagnostics]\nmedia_roots = ["{tmp_path / "media"}"]\nbackup_dir = "{usb}"\n'
        )
    return load_settings(path)


@pytest.fixture
def technician_factory(tmp_path: Path) -> Iterator[Callable[..., Technician]]:
    made: list[Technician] = []

    def build(reader_url: str = "sim://cardreader", clock: FakeClock | None = None) -> Technician:
        settings = technician_config(tmp_path, reader_url)
        kiosk = build_kiosk(settings, terminal_url="sim://terminal?transport=tcp&think=0.05")
        listeners: list[Callable[[AccessState], None]] = []

        def relay(state: AccessState) -> None:
            for listener in listeners:
                listener(state)

        mode = service_mode(settings, on_change=relay, audit=journal_audit(kiosk.journal), clock=clock)
        mode.start()
        checks = diagnostics(kiosk, reader_status=mode.reader_status, sync=True)
        rig = Technician(settings, kiosk, mode, build_desk(kiosk, settings, checks, mode), listeners)
        made.append(rig)
        return rig

    yield build
    for rig in made:
        rig.mode.stop()
        rig.kiosk.close()


def ready_sale_on(service: Any) -> str:
    """A sample customer's sale, priced, consented and past the preflight (headless)."""
    start = dt.datetime.now(MOSCOW).date() + dt.timedelta(days=3)
    sale_id: str = service.start_sale(action_id=str(uuid.uuid4()))
    service.enter(sale_id, sample_customer(random.Random(7), start), action_id=str(uuid.uuid4()))
    service.consent(sale_id, {"personal_data": "v", "policy_terms": "v", "memo": "v"}, action_id=str(uuid.uuid4()))
    assert service.preflight(sale_id).ready
    return sale_id


def sell_one(t: Technician) -> str:
    """A customer bought a policy earlier in the day (headless, through the same drivers): its amount."""
    service = t.kiosk.service
    sale_id = ready_sale_on(service)
    assert service.pay(sale_id, action_id=str(uuid.uuid4())).state.value == "completed"
    with t.kiosk.journal.session() as session:
        sale = session.get(SaleRecord, sale_id)
        assert sale is not None and sale.amount is not None
        return rub(sale.amount)


def open_app(t: Technician, drive: Callable[..., Driver]) -> Driver:
    d = drive(t.kiosk.service, t.kiosk.journal, service_mode=t.mode, technician=t.desk)
    t.listeners.append(d.app.service_mode_changed)
    return d


def hold_corner(d: Driver) -> None:
    d.long_press(d.screen.ids.corner, 3.5)


def open_tile(d: Driver, key: str) -> None:
    """From any technician screen: back to the tiles, then the tile's details."""
    if d.screen_name != "diagnostics":
        d.tap_button("‹ Все проверки")
        d.wait_screen("diagnostics")
    d.tap(d.screen._tiles[key])
    d.wait_screen("diagnostics_detail")


def act(d: Driver, button: str, expect: str, what: str) -> None:
    """Tap an action and wait for its result on screen (the progress overlay gone)."""
    d.tap_button(button)
    d.wait(lambda: expect in d.texts(), 30, what)
    d.wait_modals_closed()


def type_pin(d: Driver, pin: str) -> None:
    for digit in pin:
        d.tap_button(digit)
    d.tap_button("Войти")


def test_a_technician_opens_diagnostics_with_card_and_pin_prints_a_test_page_and_closes_the_day(
    technician_factory: Callable[..., Technician], drive: Callable[..., Driver]
) -> None:
    t = technician_factory()
    amount = sell_one(t)
    d = open_app(t, drive)
    t.mode.reader.insert(t.card())  # type: ignore[attr-defined]
    d.wait(lambda: t.mode.state.phase is Phase.AWAITING_PIN, 10, "the card verified")

    hold_corner(d)
    d.wait_screen("technician_pin")
    assert f"Карта техника {CARD_ID} проверена" in d.texts() and "Осталось попыток: 5 из 5" in d.texts()
    type_pin(d, "0000")
    d.wait(lambda: "Неверный PIN-код." in d.texts(), 10, "wrong PIN")
    d.wait_modals_closed()
    assert "Осталось попыток: 4 из 5" in d.texts() and d.screen_name == "technician_pin"
    d.shot("tech-01-pin-wrong")
    for digit in "48":
        d.tap_button(digit)
    assert "• •" in d.texts() and "48" not in d.texts()
    d.shot("tech-01-pin")
    d.tap_button("Стереть")
    d.tap_button("Стереть")

    type_pin(d, PIN)
    d.wait(lambda: d.screen_name == "diagnostics" and "Киоск может продавать полисы" in d.texts(), 20, "tiles")
    d.wait_modals_closed()
    texts = d.texts()
    for title in ("Принтер", "Терминал оплаты", "Считыватель карт", "Связь со страховщиком", "Диск", "Журнал продаж",
                  "Тарифы"):  # fmt: skip
        assert title in texts
    assert f"карта {CARD_ID}" in texts and "НОРМА" in texts and "technician" in d.app.idle.suspended
    d.shot("tech-02-tiles")

    open_tile(d, "printer")
    act(d, "Напечатать тестовую страницу", "Тестовая страница напечатана", "test page")
    d.shot("tech-03-printer-test-page")
    assert any("ТЕСТ" in text.upper() for text in t.printed())

    open_tile(d, "terminal")
    act(d, "Сверка итогов: закрыть смену и напечатать", "Смена закрыта", "end of day")
    assert "Итоги напечатаны" in d.texts() and "Операций: 1" in d.texts() and f"Сумма: {amount}" in d.texts()
    d.shot("tech-04-end-of-day")
    slip = t.printed()[-1]
    assert "СВЕРКА ИТОГОВ" in slip and "Операций: 1" in slip and amount.replace("\xa0", " ") in slip

    entries = t.entries()
    assert (CARD_ID, "service_card.pin_rejected") in entries and (CARD_ID, "service_card.session_opened") in entries
    assert (CARD_ID, "test_page") in entries and (CARD_ID, "end_of_day") in entries
    assert "terminal.end_of_day" in t.events() and "device.health" in t.events()

    t.mode.reader.remove()  # type: ignore[attr-defined]
    d.wait_screen("attract", timeout=10)
    assert not d.app.idle.suspended and d.app.technician.tiles == []
    assert (CARD_ID, "service_card.session_closed") in t.entries()


def test_without_a_verified_card_the_hidden_corner_leads_nowhere(
    technician_factory: Callable[..., Technician], drive: Callable[..., Driver]
) -> None:
    t = technician_factory()
    d = open_app(t, drive)
    hold_corner(d)
    d.frames(5)
    assert d.screen_name == "attract"

    t.mode.reader.insert(t.card(key=bytes(32)))  # type: ignore[attr-defined]  # a card with a forged key
    d.wait(lambda: t.mode.state.phase is Phase.REJECTED, 10, "the forged card refused")
    hold_corner(d)
    d.frames(5)
    assert d.screen_name == "attract" and t.mode.state.card_id is None
    assert ("unverified", "service_card.card_refused") in t.entries()


def test_an_idle_technician_session_closes_and_the_kiosk_returns_to_customers(
    technician_factory: Callable[..., Technician], drive: Callable[..., Driver]
) -> None:
    clock = FakeClock()
    t = technician_factory(clock=clock)
    d = open_app(t, drive)
    t.mode.reader.insert(t.card())  # type: ignore[attr-defined]
    d.wait(lambda: t.mode.state.phase is Phase.AWAITING_PIN, 10, "the card verified")
    hold_corner(d)
    d.wait_screen("technician_pin")
    type_pin(d, PIN)
    d.wait_screen("diagnostics")

    clock.advance(timedelta(minutes=11))  # the card stays in; nobody touches the screen
    d.wait_screen("attract", timeout=10)
    assert t.mode.state.reason == "idle" and not d.app.idle.suspended
    hold_corner(d)
    d.wait_screen("technician_pin")
    assert "Сеанс закрыт из-за бездействия" in d.texts() and not d.button("Отмена — на главный экран").disabled


@pytest.mark.serial_only
@pytest.mark.timeout(60)
def test_the_real_pcsc_stack_opens_diagnostics_and_pulling_the_card_returns_to_attract(
    pcscd: PcscdService,
    technician_factory: Callable[..., Technician],
    drive: Callable[..., Driver],
) -> None:
    t = technician_factory(reader_url=f"pcsc://?reader={quote(pcscd.reader_name)}&poll=0.2&backoff_max=0.5")
    d = open_app(t, drive)
    card = VirtualCard(t.card(), lambda: pcscd.endpoint)
    card.insert()
    try:
        d.wait(lambda: t.mode.state.phase is Phase.AWAITING_PIN, 15, "the card verified through pcscd")
        hold_corner(d)
        d.wait_screen("technician_pin")
        type_pin(d, PIN)
        d.wait(lambda: d.screen_name == "diagnostics" and "Считыватель: " in d.texts(), 20, "tiles")
        assert pcscd.reader_name in d.texts()
    finally:
        card.remove()
    d.wait_screen("attract", timeout=15)
    assert (CARD_ID, "service_card.session_closed") in t.entries()


def test_a_technician_resolves_a_flagged_sale_backs_up_the_journal_and_is_told_the_server_is_not_set_up(
    tmp_path: Path, drive: Callable[..., Driver]
) -> None:
    terminal = RecordingTerminal()
    terminal.script_completions(Fate.UNKNOWN)  # the confirmation's answer is lost: the sale is flagged
    service = fake_service(tmp_path, terminal=terminal)
    sale_id = ready_sale_on(service)
    service.pay(sale_id, action_id=str(uuid.uuid4()))
    assert service.outcome(sale_id).state.value == "flagged"
    stick = tmp_path / "media" / "USB STICK"
    stick.mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 {tmp_path}/media/USB\\040STICK vfat rw 0 0\n")
    (tmp_path / "kiosk.log").write_text("2026-11-21 10:00:00 INFO kiosk.run: ready\n", encoding="utf-8")
    listeners: list[Callable[[AccessState], None]] = []
    reader = SimulatedReader()
    mode = ServiceMode(
        reader,
        ServiceAccess(master_key=MASTER_KEY, cards={CARD_ID: PIN_HASH}, store=MemoryAttemptStore(),
                      audit=journal_audit(service.journal)),
        lambda state: [listener(state) for listener in listeners],
    )  # fmt: skip
    mode.start()
    checks = Diagnostics(
        kiosk_id="KIOSK-E2E", journal=service.journal, terminal=terminal, printer=service.printer,
        insurer=service.insurer, tariffs=service.tariffs, data_dir=tmp_path, log_path=tmp_path / "kiosk.log",
        device_lock=service.device_lock, clock=service.clock, zone=MOSCOW,
    )  # fmt: skip
    desk = TechnicianDesk(checks, mode, service, MOSCOW, media_roots=[tmp_path / "media"],
                          backup_fallback=tmp_path / "backups", mounts_file=mounts)  # fmt: skip
    d = drive(service, service.journal, service_mode=mode, technician=desk)
    listeners.append(d.app.service_mode_changed)
    try:
        reader.insert(SimulatedServiceCard(CARD_ID, derive_card_key(MASTER_KEY, CARD_ID)))
        d.wait(lambda: mode.state.phase is Phase.AWAITING_PIN, 10, "the card verified")
        hold_corner(d)
        d.wait_screen("technician_pin")
        type_pin(d, PIN)
        d.wait(lambda: d.screen_name == "diagnostics" and "Ждут решения техника: 1" in d.texts(), 20, "tiles")
        d.wait_modals_closed()
        assert "ВНИМАНИЕ" in d.texts()
        d.shot("tech-05-tiles-flagged")

        open_tile(d, "database")
        d.tap_button("Решение по спорной продаже")
        d.wait_screen("diagnostics_resolve")
        assert sale_id[:8] in d.texts()
        d.tap_button("Принять решение")
        assert "Выберите решение" in d.texts()
        d.tap_button("Платёж отменён — деньги вернулись")
        d.tap_button("Принять решение")
        assert "Укажите основание" in d.texts()
        d.tap_button("Сверено с отчётом сверки итогов")
        d.type(" 21")
        assert "Сверено с отчётом сверки итогов 21" in d.texts()
        d.shot("tech-06-resolve")
        d.tap_button("Принять решение")
        d.wait(lambda: "Подтвердите решение" in d.texts(), 5, "confirmation")
        d.shot("tech-07-resolve-confirm")
        d.tap_button("Подтвердить")
        d.wait(lambda: "Решение записано: Платёж отменён — деньги вернулись" in d.texts(), 20, "resolved")
        d.wait_modals_closed()
        assert d.screen_name == "diagnostics_detail" and service.outcome(sale_id).state.value == "reversed"
        assert "Решение по спорной продаже" not in d.texts()  # nothing left to decide

        act(d, "Последние 50 продаж", "Последние продажи: 1", "last sales")
        assert "reversed" in d.texts()

        open_tile(d, "disk")
        d.tap_button("Резервная копия журнала на USB")
        d.frames(3)
        assert f"USB-носитель: {stick}" in d.texts() and "Резервная папка" in d.texts()
        d.tap(next(b for b in d.app.root_window.children[0].walk() if getattr(b, "value", None) == str(stick)))
        d.wait(lambda: "Копия сделана и проверена" in d.texts(), 20, "backup")
        d.wait_modals_closed()
        d.shot("tech-08-backup")
        assert len(list(stick.glob("journal-KIOSK-E2E-*.db"))) == 1

        open_tile(d, "server")
        act(d, "Синхронизировать сейчас", "Центральный сервер не настроен", "no server")
        act(d, "Журнал работы: 200 строк", "kiosk.run: ready", "log lines")

        with service.journal.session() as session:
            actions = [(e.actor, e.action) for e in session.scalars(select(JournalEntry).order_by(JournalEntry.id))]
        for action in ("resolve_flagged", "view_sales", "backup", "sync_now", "view_log"):
            assert (CARD_ID, action) in actions
        d.tap_button("Выйти")
        d.wait_screen("attract")
        assert mode.state.phase is Phase.REJECTED and mode.state.reason == "logout"
    finally:
        mode.stop()
        reader.close()
