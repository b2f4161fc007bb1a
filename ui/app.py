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
from kiosk.journal.db import JournalWriteError
from kiosk.journal.guard import EXIT_REFUSED, JournalRefusedError, Refusal
from kiosk.sale.service import JournalFailedError, SaleError
from kiosk.sdnotify import Watchdog
from kiosk.service_access import Phase
from kiosk.service_mode import ServiceMode
from kiosk.validation import FieldError
from ui.i18n import Translator
from ui.presenters.idle import IdleAction, IdleWatch
from ui.presenters.out_of_service import OutOfService, OutOfServiceDesk, Step
from ui.presenters.sale import OutcomeView, SaleFlow, step_of_field
from ui.presenters.technician import PIN_SCREEN, REFUSED_SECONDS, TECHNICIAN_SCREENS, TechnicianDesk, technician_screen
from ui.screens import SCREENS
from ui.widgets.common import BusyOverlay, StillHere

__all__ = ["KioskApp", "UiContext", "load_rules"]

log = logging.getLogger("ui.app")
WIDGETS_KV = str(Path(__file__).resolve().parent / "widgets" / "widgets.kv")
#: screens in which a customer's data is on screen and the idle watch counts
IDLE_SCREENS = frozenset({"vehicle", "owner", "drivers", "period", "quote", "consent", "done", "application", "error"})
#: what the "Подождите…" overlay says while a technician's action runs
BUSY_TEXTS = {
    "sync": "Синхронизация с сервером…",
    "end_of_day": "Сверка итогов на терминале…",
    "test_page": "Печатаем тестовую страницу…",
    "terminal_diagnosis": "Терминал проверяет себя…",
}
#: screens an out-of-service kiosk builds (no sale screen: nothing can be bought)
OUT_OF_SERVICE_SCREENS = ("out_of_service", *sorted(TECHNICIAN_SCREENS))
#: screens from which "Назад" goes where
BACK = {"vehicle": "attract", "owner": "vehicle", "drivers": "owner", "period": "drivers", "quote": "period",
        "consent": "quote"}  # fmt: skip


@dataclass
class UiContext:
    """What the app is given: the sale flow and the kiosk's services, already built.

    ``flow`` is None only when the kiosk starts out of service (``out_of_service``: the journal guard
    refused the journal): then nothing but the out-of-service screen and technician mode is shown.
    """

    flow: SaleFlow | None
    settings: UiSection
    lowest_premium: Decimal | None
    translator: Translator
    service_mode: ServiceMode | None = None
    watchdog: Watchdog | None = None
    on_ready: Callable[[], None] | None = None
    #: the technician's diagnostics (None: technician mode shows nothing but the exit)
    technician: TechnicianDesk | OutOfServiceDesk | None = None
    #: the kiosk does not sell (the journal guard refused, or the journal stopped recording)
    out_of_service: OutOfService | None = None
    #: builds the out-of-service state when the journal fails while the kiosk runs (None: exit at once)
    on_journal_failure: Callable[[JournalRefusedError], OutOfService] | None = None
    #: TEST SEAM ONLY (``OSAGO_UI_TEST_FREEZE_AFTER``, read once at start-up by ``ui.main``): block the UI
    #: thread for ``[1]`` seconds, ``[0]`` seconds after ready, to prove a frozen loop stops the watchdog pings
    test_freeze: tuple[float, float] | None = None


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
        self._flow = context.flow
        self.out_of_service = context.out_of_service
        #: what ``run_ui`` returns: 0, or 75 when the kiosk leaves its out-of-service screen
        self.exit_code = 0
        self._rechecking = False
        self.settings = context.settings
        self.translator = context.translator
        self.lowest_premium = context.lowest_premium
        self.service_mode = context.service_mode
        self.technician = context.technician
        self._technician_since = 0.0
        self._health_running = False
        self.outcome_view: OutcomeView | None = None
        self.idle = IdleWatch(self.settings.idle_seconds, self.settings.idle_warning_seconds)
        self.ready = False
        self._busy: BusyOverlay | None = None
        self._still_here: StillHere | None = None
        self._events: list[Any] = []
        self._working = False
        self._update_language_labels()

    @property
    def flow(self) -> SaleFlow:
        """The sale flow (there is none while the kiosk starts out of service)."""
        if self._flow is None:
            raise SaleError("Киоск временно не работает")
        return self._flow

    @property
    def home(self) -> str:
        """The screen the kiosk returns to: attract, or out of service."""
        return "out_of_service" if self.out_of_service is not None else "attract"

    # -- building -----------------------------------------------------------------------------------
    def build(self) -> ScreenManager:
        load_rules()
        from ui.widgets.keyboard import KioskKeyboard  # noqa: F401

        # Only the attract screen before the first frame (it is what "ready" promises); the others are
        # built right after, or on first use if a customer is quicker.
        manager = ScreenManager(transition=NoTransition())
        manager.add_widget(_screen_class(self.home)(name=self.home))
        manager.current = self.home
        return manager

    def screen(self, name: str) -> Any:
        """The screen called ``name``, built on first use."""
        if not self.root.has_screen(name):
            self.root.add_widget(_screen_class(name)(name=name))
        return self.root.get_screen(name)

    def _build_screens(self, _dt: float) -> None:
        for name in OUT_OF_SERVICE_SCREENS if self._flow is None else SCREENS:
            self.screen(name)

    def on_start(self) -> None:
        Window.bind(
            on_touch_down=self._activity,
            on_key_down=self._key_down,
            on_textinput=self._hardware_text,
            on_request_close=self._request_close,
        )
        self._events.append(Clock.schedule_interval(self._idle_tick, 0.5))
        if self.service_mode is not None:
            self._events.append(Clock.schedule_interval(self._technician_tick, 1.0))
        if self.technician is not None:
            self._events.append(Clock.schedule_interval(self._health_tick, 5.0))
        self._events.append(Clock.schedule_interval(self._out_of_service_tick, 1.0))
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
        if self.out_of_service is not None:
            shown = f"out of service ({self.out_of_service.refusal.code.value})"
        else:
            shown = "attract screen shown"
        log.info("ready: %s", shown)
        if self.context.watchdog is not None:
            self.context.watchdog.ready(shown)
        if self.context.on_ready is not None:
            self.context.on_ready()
        if self.context.test_freeze is not None:
            after, seconds = self.context.test_freeze
            log.warning("TEST SEAM: the UI thread will block for %.1f s in %.1f s (OSAGO_UI_TEST_FREEZE_AFTER)",
                        seconds, after)  # fmt: skip
            self._events.append(Clock.schedule_once(lambda _dt: time.sleep(seconds), after))

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
        if self._flow is not None:
            if open_sale and self._flow.sale_id is not None:
                self._flow.abandon("customer left")
            self._flow.reset()
        self.outcome_view = None
        if self.translator.language != self.translator.default:
            self.translator.set(self.translator.default)  # the next customer is greeted in the default
            self._update_language_labels()
        self.go(self.home)

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
        if isinstance(exc, JournalFailedError | JournalWriteError):
            self.journal_failed(exc)
            return
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
        if self.service_mode is not None and self.root is not None and self.root.current in TECHNICIAN_SCREENS:
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
        """The hidden corner was held: the PIN pad or diagnostics, but only for a verified service card."""
        mode = self.service_mode
        target = technician_screen(mode.state) if mode is not None else None
        if target is None:
            log.info("technician entry refused: no verified service card")
            return
        self.idle.suspend("technician")
        self._technician_since = time.monotonic()
        self._technician_go(target)

    def _technician_go(self, target: str) -> None:
        if target == "diagnostics" and self.root.current == "diagnostics":
            return
        self.go(target)
        if target == "diagnostics":
            self.refresh_diagnostics()

    @mainthread  # type: ignore[misc]
    def service_mode_changed(self, state: Any) -> None:
        """From the card reader's thread (or a PIN check): follow the card, or leave when it is gone."""
        if self.root is None or self.root.current not in TECHNICIAN_SCREENS:
            return
        target = technician_screen(state)
        if target is None or (target == PIN_SCREEN and self.root.current != PIN_SCREEN):
            # Card pulled, session closed by idle or logout: back to the customers at once.
            self.leave_technician()
            return
        if target == PIN_SCREEN:
            self._technician_since = time.monotonic()
            self.root.current_screen.refresh_soon()
            return
        if self.root.current == PIN_SCREEN and self._working:
            return  # the PIN check still running opens diagnostics when it finishes (_pin_checked)
        self._technician_go(target)

    def _technician_tick(self, _dt: float) -> None:
        """Close an idle service session; a refused card's message does not stay on screen for ever."""
        assert self.service_mode is not None
        state = self.service_mode.check_idle()
        if self.root is None or self.root.current != PIN_SCREEN:
            return
        if state.phase is Phase.REJECTED and time.monotonic() - self._technician_since > REFUSED_SECONDS:
            self.leave_technician()

    def leave_technician(self) -> None:
        """ "Выйти": close the session (the card must be re-inserted to come back) and show the attract screen."""
        mode = self.service_mode
        if mode is not None and mode.state.phase in (Phase.OPEN, Phase.AWAITING_PIN):
            mode.logout()
        if self.technician is not None:
            self.technician.forget()
        self._close_busy()
        self.idle.resume("technician", time.monotonic())
        self.go(self.home)

    def submit_pin(self) -> None:
        """ "Войти" on the PIN pad: the PIN is checked in a worker (a slow hash by design)."""
        desk = self.technician
        if desk is None or not desk.pad.complete:
            return
        self.run_task(desk.submit_pin, self._pin_checked, "Проверяем PIN-код…")

    def _pin_checked(self, _result: Any) -> None:
        assert self.service_mode is not None
        target = technician_screen(self.service_mode.state)
        if self.root.current != PIN_SCREEN:
            return
        if target is None:
            self.leave_technician()
        elif target == "diagnostics":
            self._technician_go(target)
        else:
            self._technician_since = time.monotonic()
            self.root.current_screen.refresh_soon()

    def refresh_diagnostics(self) -> None:
        """Run every check in a worker ("Проверяем…" with a progress bar), then redraw the tiles."""
        desk = self.technician
        if desk is None:
            return
        self.run_task(desk.refresh, lambda _tiles: self._redraw_technician(), "Проверяем устройства…")

    def _redraw_technician(self) -> None:
        if self.root.current in TECHNICIAN_SCREENS:
            self.root.current_screen.refresh_soon()

    def technician_action(self, key: str, done: Callable[[Any], None]) -> None:
        """One action of a tile, in a worker, with progress text where the action reports it."""
        desk = self.technician
        if desk is None:
            return
        text = BUSY_TEXTS.get(key, "Подождите…")
        self.run_task(lambda: desk.run(key, on_progress=self.busy_progress), done, text)

    def technician_work(self, work: Callable[[], Any], done: Callable[[Any], None], text: str) -> None:
        """Other blocking technician work (backup, resolving a sale) in a worker."""
        self.run_task(work, done, text)

    @mainthread  # type: ignore[misc]
    def busy_progress(self, text: str) -> None:
        """A worker's progress, shown on the "Подождите…" overlay."""
        if self._busy is not None:
            self._busy.text = text

    # -- the operator's dashboard: periodic health reports -----------------------------------------------
    def _health_tick(self, _dt: float) -> None:
        """Queue a ``device.health`` event when due — only on the idle attract screen, never in a sale."""
        desk = self.technician
        now = time.monotonic()
        if desk is None or self._health_running or not desk.health.due(now):
            return
        if (
            self.root is None
            or self.root.current != "attract"
            or self._flow is None
            or self._flow.sale_id is not None
            or self._working
        ):
            desk.health.postponed(now)
            return
        self._health_running = True

        def report() -> None:
            try:
                sent = desk.report_health_if_idle()
            except Exception:
                log.exception("health report failed")
                sent = False
            self._health_reported(sent)

        threading.Thread(target=report, name="health-report", daemon=True).start()

    @mainthread  # type: ignore[misc]
    def _health_reported(self, sent: bool) -> None:
        self._health_running = False
        if self.technician is not None:
            now = time.monotonic()
            if sent:
                self.technician.health.reported(now)
            else:
                self.technician.health.postponed(now)

    # -- out of service --------------------------------------------------------------------------------
    def journal_failed(self, exc: BaseException) -> None:
        """The journal stopped recording while the kiosk runs: no more sales; out of service until restarted."""
        detail = str(exc)
        refusal = JournalRefusedError(
            Refusal.DISK_FULL if "full" in detail else Refusal.JOURNAL_CORRUPT,
            "Журнал продаж перестал записывать: продажа остановлена",
            f"the journal stopped recording: {detail}",
        )
        log.error("journal refused [%s]: %s — no sale on it; the kiosk is out of service", refusal.code.value,
                  refusal.detail)  # fmt: skip
        if self.context.on_journal_failure is None:
            self.exit_code = EXIT_REFUSED
            self.stop()
            return
        self.out_of_service = self.context.on_journal_failure(refusal)
        if self._flow is not None:
            self._flow.reset()
        self.outcome_view = None
        self.idle.disarm()
        self.go("out_of_service")

    def _out_of_service_tick(self, _dt: float) -> None:
        state = self.out_of_service
        if state is None:
            return
        open_session = self.service_mode is not None and self.service_mode.state.phase is Phase.OPEN
        step = state.tick(time.monotonic(), technician_open=open_session)
        if step is Step.EXIT:
            log.warning("out of service: exiting with code %d so that systemd starts the kiosk and verifies "
                        "the journal again", EXIT_REFUSED)  # fmt: skip
            self.exit_code = EXIT_REFUSED
            self.stop()
        elif step is Step.RECHECK and not self._rechecking and state.recheck is not None:
            self._rechecking = True
            check = state.recheck

            def work() -> None:
                try:
                    result = check()
                except Exception as exc:  # a check that fails is a refusal too, never a crash
                    log.error("journal recheck failed: %s", exc)
                    result = state.refusal
                self._rechecked(result)

            threading.Thread(target=work, name="journal-recheck", daemon=True).start()

    @mainthread  # type: ignore[misc]
    def _rechecked(self, result: JournalRefusedError | None) -> None:
        self._rechecking = False
        if self.out_of_service is not None:
            self.out_of_service.checked(result)
            if self.root is not None and self.root.current in TECHNICIAN_SCREENS and self.technician is not None:
                self.refresh_diagnostics()
