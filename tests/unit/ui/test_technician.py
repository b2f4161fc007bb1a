"""The technician's presenters without Kivy: the gate, the PIN pad, the desk's actions and health reports."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from drivers.cardreader import CardAnswer
from drivers.cardreader.recorder import RecordingReader
from drivers.cardreader.simcard import SimulatedServiceCard
from drivers.payment import Fate
from kiosk.bootstrap import journal_audit
from kiosk.diagnostics import Diagnostics
from kiosk.journal.models import JournalEntry, OutboxEvent
from kiosk.sale.states import SaleState
from kiosk.service_access import (
    AccessPolicy,
    AccessState,
    MemoryAttemptStore,
    Phase,
    PinResult,
    ServiceAccess,
    derive_card_key,
)
from kiosk.service_mode import ServiceMode
from tests.support.clock import FakeClock
from tests.support.technician import PIN, PIN_HASH
from tests.unit.sale.conftest import MOSCOW, Rig
from tests.unit.sale.test_service import ready_sale
from ui.main import freeze_seam
from ui.presenters.technician import (
    PIN_SCREEN,
    HealthSchedule,
    PinPad,
    ResolveForm,
    TechnicianClosedError,
    TechnicianDesk,
    pin_view,
    technician_screen,
)

MASTER = bytes(range(32))
CARD = "TECH-0042"
HASH = PIN_HASH
Usage = namedtuple("Usage", "total used free")


# -- the gate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "screen"),
    [
        (AccessState(), None),
        (AccessState(Phase.CHECKING, reader="r"), None),
        (AccessState(Phase.REJECTED, None, "r", reason="bad_response"), None),
        (AccessState(Phase.AWAITING_PIN, CARD, "r", 5), PIN_SCREEN),
        (AccessState(Phase.REJECTED, CARD, "r", 0, reason="locked"), PIN_SCREEN),
        (AccessState(Phase.OPEN, CARD, "r"), "diagnostics"),
    ],
    ids=["no-card", "checking", "refused", "awaiting-pin", "locked", "open"],
)
def test_only_a_verified_card_leads_to_the_technician_screens(state: AccessState, screen: str | None) -> None:
    assert technician_screen(state) == screen


def test_a_card_answering_with_a_forged_mac_leads_nowhere() -> None:
    access = ServiceAccess(master_key=MASTER, cards={CARD: HASH}, store=MemoryAttemptStore())
    challenge = access.begin("r")
    forged = SimulatedServiceCard(CARD, derive_card_key(bytes(32), CARD))
    reader = RecordingReader("r")
    reader.insert(forged)
    answer = reader.query_card(challenge, "r")

    state = access.present(CardAnswer(answer.card_id, answer.challenge, answer.response, "r"))

    assert state.phase is Phase.REJECTED and technician_screen(state) is None


# -- the PIN pad --------------------------------------------------------------------------------------
@given(st.text(max_size=40))
def test_the_pin_pad_keeps_only_up_to_twelve_ascii_digits(keys: str) -> None:
    pad = PinPad()
    for key in keys:
        pad.press(key)

    assert pad.digits == "".join(k for k in keys if k in "0123456789")[:12]
    assert pad.masked.replace(" ", "") == "•" * len(pad.digits)


def test_taking_the_pin_empties_the_pad() -> None:
    pad = PinPad()
    for key in "482":
        pad.press(key)
    assert not pad.complete
    pad.press("6")

    assert pad.complete and pad.take() == PIN and pad.digits == "" and pad.masked == ""


def test_the_pin_screen_counts_attempts_and_warns_before_the_last_one() -> None:
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    view = pin_view(AccessState(Phase.AWAITING_PIN, CARD, "r", 1), now=now, zone=MOSCOW, max_attempts=5,
                    lockout_minutes=30, last=PinResult.REJECTED)  # fmt: skip

    assert view.card == f"Карта техника {CARD} проверена" and view.can_type and view.error
    assert view.message == "Неверный PIN-код."
    assert view.attempts.startswith("Осталось попыток: 1 из 5") and "заблокирована на 30 мин" in view.attempts


def test_a_locked_card_shows_until_when_in_the_kiosks_time() -> None:
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    state = AccessState(Phase.REJECTED, CARD, "r", 0, now + dt.timedelta(minutes=30), "locked")

    view = pin_view(state, now=now, zone=MOSCOW, max_attempts=5, lockout_minutes=30)

    assert not view.can_type
    assert "до 12:30 (ещё 30 мин)" in view.message and "5 неверных PIN-кодов" in view.message


# -- the desk on the sale rig -----------------------------------------------------------------------
def desk_on(rig: Rig, tmp_path: Path, *, sync: object = None) -> tuple[TechnicianDesk, RecordingReader]:
    reader = RecordingReader()
    access = ServiceAccess(
        master_key=MASTER, cards={CARD: HASH}, store=MemoryAttemptStore(), policy=AccessPolicy(),
        audit=journal_audit(rig.journal), clock=FakeClock(),
    )  # fmt: skip
    mode = ServiceMode(reader, access)
    mode.start()
    checks = Diagnostics(
        kiosk_id="KIOSK-TEST", journal=rig.journal, terminal=rig.terminal, printer=rig.printer, insurer=rig.insurer,
        tariffs=rig.tariffs, data_dir=tmp_path, log_path=tmp_path / "kiosk.log", clock=rig.service.clock, zone=MOSCOW,
        disk_usage=lambda _p: Usage(50 * 1024**3, 0, 10 * 1024**3), device_lock=rig.service.device_lock,
        sync=sync,  # type: ignore[arg-type]
    )  # fmt: skip
    return TechnicianDesk(checks, mode, rig.service, MOSCOW, backup_fallback=tmp_path / "backups"), reader


def open_session(desk: TechnicianDesk, reader: RecordingReader) -> None:
    reader.insert(SimulatedServiceCard(CARD, derive_card_key(MASTER, CARD)))
    for digit in PIN:
        desk.pad.press(digit)
    assert desk.submit_pin() is PinResult.ACCEPTED


def journal(rig: Rig) -> list[tuple[str, str]]:
    with rig.journal.session() as session:
        return [(e.actor, e.action) for e in session.scalars(select(JournalEntry).order_by(JournalEntry.id))]


def outbox(rig: Rig) -> list[str]:
    with rig.journal.session() as session:
        return list(session.scalars(select(OutboxEvent.kind).order_by(OutboxEvent.id)))


def test_no_action_runs_without_an_open_session(rig: Rig, tmp_path: Path) -> None:
    desk, reader = desk_on(rig, tmp_path)
    reader.insert(SimulatedServiceCard(CARD, derive_card_key(MASTER, CARD)))  # verified, but no PIN yet

    with pytest.raises(TechnicianClosedError):
        desk.run("test_page")
    assert rig.printer.jobs == [] and journal(rig) == []


def test_an_action_is_journaled_with_the_card_id_and_reported_to_the_operator(rig: Rig, tmp_path: Path) -> None:
    desk, reader = desk_on(rig, tmp_path)
    open_session(desk, reader)

    result = desk.run("test_page")

    assert result.ok and result.title == "Тестовая страница напечатана"
    assert journal(rig) == [(CARD, "service_card.session_opened"), (CARD, "test_page")]
    assert outbox(rig) == ["device.health"] and len(desk.tiles) == 7


def test_end_of_day_on_the_screen_lists_only_card_types_that_were_used(rig: Rig, tmp_path: Path) -> None:
    rig.service.pay(ready_sale(rig), action_id=str(uuid.uuid4()))
    desk, reader = desk_on(rig, tmp_path)
    open_session(desk, reader)

    result = desk.run("end_of_day")

    assert result.ok and result.lines[0] == "Операций: 1" and "Итоги напечатаны" in result.lines
    assert (CARD, "end_of_day") in journal(rig) and "terminal.end_of_day" in outbox(rig)


def test_sync_without_a_server_says_so_in_russian_and_is_journaled(rig: Rig, tmp_path: Path) -> None:
    desk, reader = desk_on(rig, tmp_path)
    open_session(desk, reader)

    result = desk.run("sync")

    assert not result.ok and result.title == "Центральный сервер не настроен"
    assert (CARD, "sync_now") in journal(rig)


def test_a_flagged_sale_needs_a_resolution_and_a_reason_before_it_is_recorded(rig: Rig, tmp_path: Path) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))
    desk, reader = desk_on(rig, tmp_path)
    open_session(desk, reader)
    (flagged,) = desk.flagged()
    form = ResolveForm(flagged)

    assert form.problem() == "Выберите решение"
    form.resolution = SaleState.REVERSED
    assert form.problem() is not None and not desk.resolve(form).ok
    form.note = "сверено с отчётом сверки итогов"
    assert "Отменить его нельзя" in form.confirmation()

    result = desk.resolve(form)

    assert result.ok and rig.service.outcome(sale_id).state is SaleState.REVERSED
    assert (CARD, "resolve_flagged") in journal(rig) and desk.flagged() == []


def test_a_backup_goes_to_the_chosen_place_and_is_proven_by_restoring_it(rig: Rig, tmp_path: Path) -> None:
    rig.service.pay(ready_sale(rig), action_id=str(uuid.uuid4()))
    desk, reader = desk_on(rig, tmp_path)
    open_session(desk, reader)
    (target,) = desk.backup_targets()  # no media mounted: only the fallback

    result = desk.backup(target.path)

    assert result.ok and "Продаж в копии: 1" in result.lines
    assert (CARD, "backup") in journal(rig)


def test_the_periodic_health_report_waits_while_a_sale_holds_the_devices(rig: Rig, tmp_path: Path) -> None:
    desk, _reader = desk_on(rig, tmp_path)
    held, release = threading.Event(), threading.Event()

    def sale_in_progress() -> None:
        with rig.service.device_lock:
            held.set()
            release.wait(5)

    worker = threading.Thread(target=sale_in_progress)
    worker.start()
    held.wait(5)
    try:
        assert desk.report_health_if_idle() is False
        assert rig.terminal.call_names.count("status") == 0 and outbox(rig) == []
    finally:
        release.set()
        worker.join()

    assert desk.report_health_if_idle() is True and outbox(rig) == ["device.health"]


def test_health_reports_are_due_every_period_and_retried_soon_after_a_busy_moment() -> None:
    schedule = HealthSchedule(every=600, next_due=100)

    assert not schedule.due(99) and schedule.due(100)
    schedule.postponed(100)
    assert schedule.next_due == 130
    schedule.reported(130)
    assert not schedule.due(729) and schedule.due(730)


def test_the_freeze_seam_is_read_from_the_environment_only_when_set_and_sane() -> None:
    assert freeze_seam({}) is None
    assert freeze_seam({"OSAGO_UI_TEST_FREEZE_AFTER": "2"}) == (2.0, 5.0)
    assert freeze_seam({"OSAGO_UI_TEST_FREEZE_AFTER": "1", "OSAGO_UI_TEST_FREEZE_SECONDS": "3"}) == (1.0, 3.0)
    assert freeze_seam({"OSAGO_UI_TEST_FREEZE_AFTER": "soon"}) is None
    assert freeze_seam({"OSAGO_UI_TEST_FREEZE_AFTER": "1", "OSAGO_UI_TEST_FREEZE_SECONDS": "9999"}) is None
