"""The kiosk whose journal the guard refused, under Xvfb: the customer sees «Киоск временно не работает»
and can buy nothing; a technician with the service card sees the journal's tile red with the reason,
restores a backup from it, and the kiosk then exits with code 75 for systemd to start it afresh."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kivy.base import EventLoop
from kivy.core.window import Window

from drivers.cardreader.simcard import SimulatedServiceCard
from kiosk.bootstrap import journal_guard, service_mode
from kiosk.config import KioskSettings
from kiosk.journal.guard import EXIT_REFUSED, JournalRefusedError, Refusal
from kiosk.journal.sidecar import read_sidecar
from kiosk.service_access import AccessState, Phase, derive_card_key
from tests.e2e.harness import Driver, stop_app
from tests.e2e.test_technician import MASTER_KEY, hold_corner, open_tile, technician_config, type_pin
from tests.support.journal_damage import damage
from tests.support.technician import CARD_ID
from ui.app import KioskApp
from ui.main import out_of_service_context

pytestmark = pytest.mark.e2e


@pytest.fixture
def out_of_service(artifacts_dir: Path) -> Iterator[Callable[..., Driver]]:
    """``start(context)``: the app on a prepared context in the session's window (stopped afterwards)."""
    shots = artifacts_dir / "ui"
    shots.mkdir(parents=True, exist_ok=True)
    started: list[Driver] = []

    def start(context: Any) -> Driver:
        EventLoop.ensure_window()
        Window.size = (1280, 800)
        EventLoop.start()
        app = KioskApp(context)
        app._run_prepare()
        driver = Driver(app, None, shots)  # type: ignore[arg-type]  # no journal: it was refused
        driver.frames(4)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        stop_app(driver)


def refused_kiosk(tmp_path: Path) -> tuple[KioskSettings, JournalRefusedError, Path]:
    """A kiosk that sold on its journal, made a backup, and then found the journal overwritten with noise."""
    settings = technician_config(tmp_path)
    guard = journal_guard(settings, server=False)
    guarded = guard.open()
    assert guarded is not None
    guarded.journal.close()
    backup = Path(settings.data_path(settings.diagnostics.backup_dir)) / f"journal-{settings.kiosk.id}-20261201.db"
    with sqlite3.connect(guard.journal_file) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    damage(guard.journal_file, "random")
    try:
        guard.open()
    except JournalRefusedError as exc:
        return settings, exc, backup
    raise AssertionError("the guard accepted a journal of random bytes")


def test_a_refused_journal_shows_the_customer_out_of_service_and_the_technician_a_red_journal_tile(
    tmp_path: Path, out_of_service: Callable[..., Driver]
) -> None:
    settings, refusal, backup = refused_kiosk(tmp_path)
    assert refusal.code is Refusal.JOURNAL_CORRUPT
    listeners: list[Callable[[AccessState], None]] = []
    mode = service_mode(settings, on_change=lambda s: [listener(s) for listener in listeners])
    mode.start()
    guard = journal_guard(settings, server=False)
    context = out_of_service_context(settings, refusal, guard, service_mode=mode)
    context.out_of_service.stay = 3600  # the test decides when it ends
    d = out_of_service(context)
    listeners.append(d.app.service_mode_changed)
    stopped: list[bool] = []
    d.app.stop = lambda *_a: stopped.append(True)  # the session's window must survive the kiosk's exit
    try:
        assert d.screen_name == "out_of_service"
        assert "Киоск временно не работает" in d.texts() and "деньги не списываются" in d.texts()
        assert "Начать" not in d.texts() and not d.app.root.has_screen("vehicle")
        d.shot("oos-01-customer")
        hold_corner(d)  # no card: nothing
        d.frames(5)
        assert d.screen_name == "out_of_service"

        mode.reader.insert(SimulatedServiceCard(CARD_ID, derive_card_key(MASTER_KEY, CARD_ID)))  # type: ignore[attr-defined]
        d.wait(lambda: mode.state.phase is Phase.AWAITING_PIN, 10, "the card verified")
        hold_corner(d)
        d.wait_screen("technician_pin")
        type_pin(d, "4826")
        d.wait(lambda: d.screen_name == "diagnostics" and "Продажа невозможна" in d.texts(), 20, "tiles")
        d.wait_modals_closed()
        texts = d.texts()
        assert "Журнал продаж" in texts and "НЕИСПРАВНОСТЬ" in texts and "Журнал продаж повреждён" in texts
        assert d.screen._tiles["database"].light == "red"
        d.shot("oos-02-tech-tiles")

        open_tile(d, "database")
        assert "Что делать: Восстановите журнал из резервной копии" in d.texts()
        assert "Восстановить журнал из резервной копии" in d.texts() and "Начать новый пустой журнал" in d.texts()
        d.shot("oos-03-journal-tile")

        d.tap_button("Восстановить журнал из резервной копии")
        d.frames(3)
        choice = next(b for b in Window.children[0].walk() if getattr(b, "value", None) == str(backup))
        d.tap(choice)
        d.wait(lambda: "Журнал восстановлен" in d.texts(), 20, "restored")
        d.wait_modals_closed()
        d.shot("oos-04-restored")
        assert read_sidecar(guard.sidecar_file).state == "reconcile"
        assert list(guard.journal_file.parent.glob("journal.db.set-aside-*")), "the damaged file was kept"
        assert not stopped, "the kiosk never exits under an open technician session"

        d.tap_button("Выйти")
        d.wait(lambda: bool(stopped), 10, "the kiosk exits after the technician left")
        assert d.app.exit_code == EXIT_REFUSED
        assert guard.check() is None, "the restored journal passes the guard at the next start"
    finally:
        mode.stop()
