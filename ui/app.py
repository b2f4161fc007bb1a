"""The kiosk app: screens, navigation, workers, idle safety, language, readiness and the watchdog.

Import this only after ``ui.boot.configure_kivy`` (it imports Kivy, and Kivy reads its config then).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.config import UiSection
from kiosk.sale.service import SaleError
from kiosk.sdnotify import Watchdog
from kiosk.service_mode import ServiceMode
from kiosk.validation import FieldError
from ui.i18n import Translator
from ui.presenters.idle import IdleAction, IdleWatch
from ui.presenters.sale import OutcomeView, SaleFlow, step_of_field
from ui.screens import SCREENS
from ui.widgets.common import BusyOverlay, StillHere

__all__ = ["KioskApp", "UiContext", "load_rules"]

log = logging.getLogger("ui.app")
WIDGETS_KV = str(Path(__file__).resolve().parent / "widgets" / "widgets.kv")
#: screens in which a customer's data is on screen and the idle watch counts
IDLE_SCREENS = frozenset({"vehicle", "owner", "drivers", "period", "quote", "consent", "done", "application", "error"})
#: screens from which "Назад" goes where
BACK = {"vehicle": "attract", "owner": "vehicle", "drivers": "owner", "period": "drivers", "quote": "period",
        "consent": "quote"}  # fmt: skip


@dataclass
class UiContext:
    """What the app is given: the sale flow and the kiosk's services, already built."""

    flow: SaleFlow
    settings: UiSection
    lowest_premium: Decimal | None
    translator: Translator
    service_mode: ServiceMode | None = None
    watchdog: Watchdog | None = None
    on_ready: Callable[[], None] | None = None


def load_rules() -> None:
    """Load the widget rules and every screen module (each loads its own .kv) once per process."""
    if WIDGETS_KV not in Builder.files:
        Builder.load_file(WIDGETS_KV)
    import ui.widgets.keyboard  # noqa: F401  (registers KioskKeyboard with the Factory)

    for name in SCREENS:
        importlib.import_module(f"ui.screens.{name}")


def _screen_class(name: str) -> Any:
    module = importlib.import_module(f"ui.screens.{name}")
    return getattr(module, "".join(part.capitalize() for part in name.split("_")) + "Screen")


class KioskApp(App):  # type: ignore[misc]
    """The touchscreen."""

    title = "ОСАГО"
    lang = StringProperty("ru")
    next_language_label = StringProperty("EN")

    def __init__(self, context: UiContext, **kw: Any) -> None:
        super().__init__(**kw)
        self.context = context
        self.flow = context.flow
        self.settings = context.settings
        self.translator = context.translator
        self.lowest_premium = context.lowest_premium
        self.service_mode = context.service_mode
        self.outcome_view: OutcomeView | None = None
        self.idle = IdleWatch(self.settings.idle_seconds, self.settings.idle_warning_seconds)
        self.ready = False
        self._busy: BusyOverlay | None = None
        self._still_here: StillHere | None = None
        self._events: list[Any] = []
        self._working = False
        self._update_language_labels()

    # -- building -----------------------------------------------------------------------------------
    def build(self) -> ScreenManager:
        load_rules()
        from ui.widgets.keyboard import KioskKeyboard  # noqa: F401

        # Only the attract screen before the first frame (it is what "ready" promises); the others are
        # built right after, or on first use if a customer is quicker.
        manager = ScreenManager(transition=NoTransition())
        manager.add_widget(_screen_class("attract")(name="attract"))
        manager.current = "attract"
        return manager

    def screen(self, name: str) -> Any:
        """The screen called ``name``, built on first use."""
        if not self.root.has_screen(name):
            self.root.add_widget(_screen_class(name)(name=name))
        return self.root.get_screen(name)

    def _build_screens(self, _dt: float) -> None:
        for name in SCREENS:
            self.screen(name)

    def on_start(self) -> None:
        Window.bind(
            on_touch_down=self._activity,
            on_key_down=self._key_down,
            on_textinput=self._hardware_text,
            on_request_close=self._request_close,
        )
        self._events.append(Clock.schedule_interval(self._idle_tick, 0.5))
        watchdog = self.context.watchdog
        if watchdog is not None and watchdog.interval:
            self._events.append(Clock.schedule_interval(self._watchdog_tick, watchdog.interval))
        # Readiness is announced once the first frame (the attract screen) has reached the display.
        Window.bind(on_flip=self._first_frame)

    def _first_frame(self, *_args: Any) -> None:
        Window.unbind(on_flip=self._first_frame)
        Clock.schedule_once(self._announce_ready, 0)

    def _announce_ready(self, _dt: float) -> None:
        Clock.schedule_once(self._build_screens, 0)
        self.ready = True
        log.info("ready: attract screen shown")
        if self.context.watchdog is not None:
            self.context.watchdog.ready("attract screen shown")
        if self.context.on_ready is not None:
            self.context.on_ready()

    def _watchdog_tick(self, _dt: float) -> None:
        assert self.context.watchdog is not None
        self.context.watchdog.tick()

    def on_stop(self) -> None:
        Window.unbind(
            on_touch_down=self._activity,
            on_key_down=self._key_down,
            on_textinput=self._hardware_text,
            on_request_close=self._request_close,
        )
        for event in self._events:
            event.cancel()
        self._events.clear()
        if self.context.watchdog is not None:
            self.context.watchdog.stopping()

    def _request_close(self, _window: Any, *args: Any, source: Any = None, **kw: Any) -> bool:
        """Keep the kiosk open against ESC and the close button; SIGTERM (no source) goes through."""
        if self.settings.exit_on_escape:
            return False
        return source in ("keyboard", "escape")

    # -- language -----------------------------------------------------------------------------------
    def tr(self, text: str, *_bound: Any) -> str:
        """``text`` in the current language (kv passes ``app.lang`` so it re-evaluates on a switch)."""
        return self.translator(text)

    def switch_language(self) -> None:
        self.translator.set(self.translator.next_language())
        self._update_language_labels()
        if self.root is not None:
            self.root.current_screen.refresh_soon()

    def _update_language_labels(self) -> None:
        self.lang = self.translator.language
        self.next_language_label = self.translator.next_language().upper()

    # -- navigation ---------------------------------------------------------------------------------
    def go(self, name: str) -> None:
        """Show a screen; the idle watch counts only where a customer's data is on screen."""
        if self.root.current == name:
            self.root.current_screen.refresh_soon()
        self.screen(name)
        self.root.current = name
        if name in IDLE_SCREENS:
            if not self.idle.armed:
                self.idle.arm(time.monotonic())
        else:
            self.idle.disarm()
        self._dismiss_still_here()

    def back(self) -> None:
        target = BACK.get(self.root.current, "attract")
        if target == "attract":
            self.cancel_sale()  # back from the first step ends the sale: nothing typed may stay
            return
        self.go(target)

    def start_sale(self) -> None:
        """ "Начать": a new sale with empty forms."""
        self.outcome_view = None
        self.run_task(self.flow.begin, lambda _sale: self.go("vehicle"), "Подождите…")

    def cancel_sale(self) -> None:
        """ "Отменить покупку": the sale ends before payment; everything typed is forgotten."""
        self.run_task(lambda: self.flow.abandon("customer cancelled"), lambda _r: self.finish(), "Отменяем…")

    def finish(self) -> None:
        """Back to the attract screen with nothing of the customer left in memory."""
        open_sale = self.outcome_view is None or self.outcome_view.retry
        if open_sale and self.flow.sale_id is not None:
            self.flow.abandon("customer left")
        self.flow.reset()
        self.outcome_view = None
        if self.translator.language != self.translator.default:
            self.translator.set(self.translator.default)  # the next customer is greeted in the default
            self._update_language_labels()
        self.go("attract")

    # -- the sale's long calls ----------------------------------------------------------------------
    def price(self) -> None:
        """After the period step: price with the КБМ look-up (worker), then the quote screen."""
        self.run_task(self.flow.price, lambda _q: self.go("quote"), "Считаем стоимость и проверяем КБМ…")

    def consent_and_check(self) -> None:
        """Record consents, then the preflight: pay, offer the application, or say why not."""

        def work() -> Any:
            self.flow.give_consent()
            return self.flow.check_ready()

        self.run_task(work, self._after_preflight, "Проверяем готовность киоска…")

    def _after_preflight(self, preflight: Any) -> None:
        if preflight.ready:
            self.pay()
        elif preflight.can_apply:
            self.outcome_view = None
            self.go("application")
        else:
            self.outcome_view = self.flow.preflight_view(preflight)
            self.flow.abandon("preflight: " + preflight.message)
            self.go("error")

    def pay(self) -> None:
        """The payment screen, with the payment itself in a worker (idle suspended)."""
        payment = self.screen("payment")
        self.outcome_view = None
        self.go("payment")
        payment.begin()
        self.idle.suspend("payment")
        self._start(lambda: self.flow.pay(payment.terminal_text), self._paid, self._pay_failed)

    def _paid(self, view: OutcomeView) -> None:
        self.screen("payment").end()
        self.idle.resume("payment", time.monotonic())
        self.outcome_view = view
        self.go("application" if view.screen == "application_done" else view.screen)

    def _pay_failed(self, exc: BaseException) -> None:
        self.screen("payment").end()
        self.idle.resume("payment", time.monotonic())
        self._failed(exc)

    def retry_payment(self) -> None:
        """Another card after a decline: preflight again, then pay."""
        self.run_task(self.flow.check_ready, self._after_preflight, "Проверяем готовность киоска…")

    def apply(self, office: int) -> None:
        """File the application (worker; the letter prints meanwhile)."""
        self.idle.suspend("printing")

        def done(view: OutcomeView) -> None:
            self.idle.resume("printing", time.monotonic())
            self.outcome_view = view
            self.go("application" if view.screen == "application_done" else view.screen)

        self.run_task(lambda: self.flow.apply(office), done, "Подаём заявление и печатаем письмо…")

    # -- workers ------------------------------------------------------------------------------------
    def run_task(self, work: Callable[[], Any], done: Callable[[Any], None], text: str) -> None:
        """Run a blocking call in a worker with "Подождите…" over the screen; ignore double taps."""
        if self._working:
            return
        self._busy = BusyOverlay(text=text)
        self._busy.open()

        def finished(result: Any) -> None:
            self._close_busy()
            done(result)

        def failed(exc: BaseException) -> None:
            self._close_busy()
            self._failed(exc)

        self._start(work, finished, failed)

    def _start(
        self, work: Callable[[], Any], done: Callable[[Any], None], failed: Callable[[BaseException], None]
    ) -> None:
        self._working = True

        def target() -> None:
            try:
                result = work()
            except BaseException as exc:  # reported on the UI thread
                self._deliver(failed, exc)
            else:
                self._deliver(done, result)

        threading.Thread(target=target, name="ui-worker", daemon=True).start()

    @mainthread  # type: ignore[misc]
    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        self._working = False
        callback(value)

    def _close_busy(self) -> None:
        if self._busy is not None:
            self._busy.dismiss()
            self._busy = None

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, FieldError):
            step = step_of_field(exc.field)
            self.go(step)
            self.screen(step).show_error(exc)
            return
        if isinstance(exc, SaleError):
            message = exc.message
        else:
            log.error("unexpected error in a sale call", exc_info=exc)
            message = "Сбой киоска."
        self.outcome_view = OutcomeView(
            "error", None, "Покупка не завершена", message, "Если оплата не начиналась, деньги не списывались."
        )
        self.go("error")

    # -- idle safety ---------------------------------------------------------------------------------
    def _activity(self, *_args: Any) -> bool:
        self.idle.touch(time.monotonic())
        if self.service_mode is not None and self.root is not None and self.root.current == "diagnostics":
            self.service_mode.touch()
        return False

    def _idle_tick(self, _dt: float) -> None:
        now = time.monotonic()
        action = self.idle.tick(now)
        if action is IdleAction.ASK:
            self._still_here = StillHere(seconds=self.idle.seconds_left(now))
            self._still_here.bind(on_stay=self._stay)
            self._still_here.open()
        elif action is IdleAction.RESET:
            self._dismiss_still_here()
            log.info("idle: customer gone, data wiped")
            self.finish()
        elif self._still_here is not None:
            if self.idle.asking:
                self._still_here.seconds = self.idle.seconds_left(now)
            else:
                self._dismiss_still_here()

    def _stay(self, *_args: Any) -> None:
        self.idle.touch(time.monotonic())
        self._dismiss_still_here()

    def _dismiss_still_here(self) -> None:
        if self._still_here is not None:
            self._still_here.dismiss()
            self._still_here = None

    # -- keyboard (developer mode) ----------------------------------------------------------------------
    def _key_down(self, _window: Any, key: int, *_args: Any) -> bool:
        self.idle.touch(time.monotonic())
        screen: Any = self.root.current_screen if self.root is not None else None
        if key == 8 and hasattr(screen, "hardware_backspace"):
            screen.hardware_backspace()
            return True
        return False

    def _hardware_text(self, _window: Any, text: str) -> None:
        screen: Any = self.root.current_screen if self.root is not None else None
        if hasattr(screen, "type_text"):
            screen.type_text(text)

    # -- technician mode -----------------------------------------------------------------------------------
    def technician_entry(self) -> None:
        """The hidden corner was held: open diagnostics if a verified card and PIN opened service mode."""
        mode = self.service_mode
        if mode is None or not mode.state.is_open:
            log.info("technician entry refused: service mode is not open")
            return
        self.idle.suspend("technician")
        self.go("diagnostics")

    @mainthread  # type: ignore[misc]
    def service_mode_changed(self, state: Any) -> None:
        """From the card reader's thread: the card was pulled or the session closed → leave."""
        if not state.is_open and self.root is not None and self.root.current == "diagnostics":
            self.leave_technician()

    def leave_technician(self) -> None:
        if self.service_mode is not None and self.service_mode.state.is_open:
            self.service_mode.logout()
        self.idle.resume("technician", time.monotonic())
        self.go("attract")
