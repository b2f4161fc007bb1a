"""Fixtures and helpers for driving the kiosk app: taps, on-screen keys, waiting, screenshots."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kivy.app import App
from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.tests.common import UnitTestTouch
from kivy.uix.button import Button
from kivy.uix.modalview import ModalView
from sqlalchemy import select

from kiosk.config import UiSection
from kiosk.journal.db import Journal
from kiosk.journal.models import OutboxEvent, PaymentAttempt, SaleRecord
from kiosk.tariffs import TariffEngine
from ui.app import KioskApp, UiContext
from ui.i18n import Translator
from ui.presenters.attract import lowest_premium
from ui.presenters.consent import load_consents
from ui.presenters.sale import SaleFlow

__all__ = ["Driver", "drive", "start_app"]

CONFIG = Path(__file__).resolve().parents[2] / "config"


@dataclass
class Driver:
    """A running app and the means to use it as a customer would."""

    app: KioskApp
    journal: Journal
    shots: Path
    taken: list[Path] = field(default_factory=list)

    # -- the loop --------------------------------------------------------------------------------
    def frames(self, count: int = 2) -> None:
        for _ in range(count):
            EventLoop.idle()

    def wait(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
        """Run the loop until ``condition`` holds (workers finish in their threads meanwhile)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition} on screen {self.screen_name}")
            EventLoop.idle()
            time.sleep(0.005)
        self.frames(3)

    def wait_screen(self, name: str, timeout: float = 20.0) -> None:
        self.wait(
            lambda: (
                self.screen_name == name
                and not self.app._working
                and all(not isinstance(w, ModalView) for w in Window.children)
            ),
            timeout,
            f"screen {name}",
        )

    @property
    def screen_name(self) -> str:
        return str(self.app.root.current)

    @property
    def screen(self) -> Any:
        return self.app.root.current_screen

    # -- touches ---------------------------------------------------------------------------------
    def tap_at(self, x: float, y: float) -> None:
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frames(1)
        touch.touch_up()
        self.frames(2)

    def tap(self, widget: Any) -> None:
        assert widget.get_root_window() is not None, f"{widget} is not on screen"
        self.tap_at(*widget.to_window(*widget.center))

    def button(self, text: str, root: Any = None) -> Any:
        """The visible button whose text is ``text`` (on the current screen or a modal)."""
        found = [
            w
            for top in ([root] if root is not None else list(Window.children))
            for w in top.walk()
            if isinstance(w, Button) and w.text == text and w.opacity > 0 and not w.disabled
        ]
        assert found, f"no button {text!r} on screen {self.screen_name}"
        return found[0]

    def tap_button(self, text: str) -> None:
        self.tap(self.button(text))

    def long_press(self, widget: Any, seconds: float) -> None:
        """Hold a finger on ``widget`` for ``seconds`` (the hold is told to the screen, not waited for)."""
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        self.frames(2)
        self.screen._pressed_at -= seconds
        touch.touch_up()
        self.frames(2)

    def wait_modals_closed(self) -> None:
        """Until every pop-up has finished closing (a closing one still takes touches)."""
        self.wait(lambda: all(not isinstance(w, ModalView) for w in Window.children), 5, "pop-ups closed")

    def field(self, name: str) -> Any:
        """A field box, scrolled into view as a customer would scroll to it."""
        box = self.screen._boxes[name]
        self.screen.ids.scroll.scroll_to(box, padding=4, animate=False)
        self.frames(2)
        return box

    def type(self, text: str) -> None:
        """Tap the on-screen keys for ``text`` (letters by their upper-case key labels)."""
        keyboard = self.screen.ids.keyboard
        self.frames(2)
        for ch in text:
            label = " " if ch == " " else ch.upper()
            if ch == " ":
                layout = keyboard.available_layouts[keyboard.layout]
                label = next(
                    k[0] for row in layout.values() if isinstance(row, list) for k in row if k[2] == "spacebar"
                )
            self.tap_at(*keyboard.key_centre(label))

    def fill(self, name: str, text: str) -> None:
        """Tap a field, then type into it on the on-screen keyboard."""
        self.tap(self.field(name))
        self.type(text)
        shown = self.field(name).value
        assert not self.field(name).error, f"{name}: {self.field(name).error} after typing {text!r} ({shown!r})"

    def pick(self, name: str, label: str) -> None:
        """Tap a choice field, then the option in the pick list."""
        self.tap(self.field(name))
        modal = next(w for w in Window.children if w.__class__.__name__ == "PickList")
        self.frames(2)
        button = self.button(label, modal)
        modal.children[0].children[1].scroll_to(button, animate=False)
        self.frames(2)
        self.tap(button)
        self.wait_modals_closed()

    # -- artefacts and journal ---------------------------------------------------------------------
    def shot(self, name: str) -> Path:
        """A PNG of the whole window in artifacts/ui/<name>.png."""
        self.frames(3)
        stem = self.shots / name
        written = Path(Window.screenshot(name=str(stem) + ".png"))
        target = self.shots / f"{name}.png"
        written.replace(target)
        self.taken.append(target)
        return target

    def texts(self) -> str:
        """Every label text on screen, joined (for asserting on content)."""
        return "\n".join(
            str(w.text) for top in Window.children for w in top.walk() if hasattr(w, "text") and w.opacity > 0
        )

    def sales(self) -> list[SaleRecord]:
        with self.journal.session() as session:
            rows = session.scalars(select(SaleRecord).order_by(SaleRecord.created_at)).all()
            session.expunge_all()
            return list(rows)

    def payment_outcomes(self) -> list[str | None]:
        with self.journal.session() as session:
            return list(session.scalars(select(PaymentAttempt.outcome).order_by(PaymentAttempt.id)).all())

    def events(self) -> list[str]:
        with self.journal.session() as session:
            return list(session.scalars(select(OutboxEvent.kind).order_by(OutboxEvent.id)).all())


def start_app(
    service: Any,
    journal: Journal,
    shots: Path,
    *,
    ui: UiSection | None = None,
    service_mode: Any = None,
    technician: Any = None,
    **flow_kw: Any,
) -> Driver:
    """A KioskApp on ``service``, shown in the session's window (pattern A of the kiosk report)."""
    settings = ui or UiSection()
    today = flow_kw.pop("today", None) or (lambda: dt.datetime.now(ZoneInfo("Europe/Moscow")).date())
    flow = SaleFlow(
        service,
        today=today,
        earliest_start_days=3,
        consents=load_consents(CONFIG / "consents.toml"),
        offices=[f"{o.name}, {o.address}" for o in service.config.offices],
        check_url="http://127.0.0.1:8080/check",
    )
    engine: TariffEngine = service.tariffs
    context = UiContext(
        flow=flow,
        settings=settings,
        lowest_premium=lowest_premium(engine, flow.earliest()),
        translator=Translator(settings.languages, settings.language),
        service_mode=service_mode,
        technician=technician,
    )
    EventLoop.ensure_window()
    Window.size = (1280, 800)
    EventLoop.start()
    app = KioskApp(context)
    app._run_prepare()
    driver = Driver(app, journal, shots)
    driver.frames(4)
    return driver


def stop_app(driver: Driver) -> None:
    app = driver.app
    app.dispatch("on_stop")
    for child in list(Window.children):
        Window.remove_widget(child)
    App._running_app = None
    EventLoop.close()


@pytest.fixture
def drive(artifacts_dir: Path) -> Iterator[Callable[..., Driver]]:
    """``drive(service, journal, **kw)`` starts the app; it is stopped after the test."""
    shots = artifacts_dir / "ui"
    shots.mkdir(parents=True, exist_ok=True)
    started: list[Driver] = []
    Clock._max_fps = 0  # EventLoop.idle() must not sleep to honour 60 fps

    def start(service: Any, journal: Journal, **kw: Any) -> Driver:
        driver = start_app(service, journal, shots, **kw)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        stop_app(driver)


def fill_customer(flow: SaleFlow, *, licence: str = "7701123456") -> None:
    """Type a plausible customer straight into the presenters (for tests about later screens)."""
    vehicle = flow.vehicle.form
    for name, value in {
        "vehicle.plate": "А123ВС77", "vehicle.vin": "XTA21099043456789", "vehicle.make": "KIA", "vehicle.model": "RIO",
        "vehicle.year": "2018", "vehicle.power": "123", "vehicle.document_number": "7700123456",
    }.items():  # fmt: skip
        vehicle.set(name, value)
    owner = flow.owner.form
    for name, value in {
        "owner.last_name": "Петрова", "owner.first_name": "Анна", "owner.birth_date": "02041985",
        "owner.passport": "4510654321", "owner.address": "Москва, Тверская 7", "owner.phone": "9161112233",
    }.items():  # fmt: skip
        owner.set(name, value)
    flow.owner.pick_region("77")
    driver = flow.drivers.form
    flow.drivers.copy_owner(owner)
    driver.set("driver.licence", licence)
    driver.set("driver.licence_date", "01062005")
