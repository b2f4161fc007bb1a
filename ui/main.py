"""Start the touchscreen on a built kiosk (``osago-kiosk run`` calls ``run_ui``)."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kiosk.bootstrap import MB, Kiosk, journal_path, sidecar_path
from kiosk.config import KioskSettings
from kiosk.diagnostics import Diagnostics, refused_tiles
from kiosk.journal.guard import JournalGuard, JournalRefusedError
from kiosk.sdnotify import Watchdog
from kiosk.service_mode import ServiceMode
from ui.boot import configure_kivy
from ui.i18n import Translator
from ui.presenters.attract import lowest_premium
from ui.presenters.consent import load_consents
from ui.presenters.out_of_service import OutOfService, OutOfServiceDesk, clear_refusals, stay_seconds
from ui.presenters.sale import SaleFlow
from ui.presenters.technician import TechnicianDesk

__all__ = [
    "FREEZE_AFTER",
    "FREEZE_SECONDS",
    "build_context",
    "build_desk",
    "freeze_seam",
    "out_of_service_context",
    "prepare",
    "run_out_of_service",
    "run_ui",
]

#: TEST SEAM ONLY: seconds after ready at which the UI thread blocks once (``tests/integration/
#: test_kiosk_run.py`` proves a frozen loop stops the systemd watchdog pings). Read from the environment
#: once, at start-up; nothing on the screen can set it. Never set it on a kiosk: systemd would restart it.
FREEZE_AFTER = "OSAGO_UI_TEST_FREEZE_AFTER"
#: TEST SEAM ONLY: how long that block lasts (seconds, default 5)
FREEZE_SECONDS = "OSAGO_UI_TEST_FREEZE_SECONDS"

log = logging.getLogger("ui.main")


def build_flow(kiosk: Kiosk, settings: KioskSettings) -> SaleFlow:
    """The sale flow on the kiosk's sale service, with the configured consents and offices."""
    zone = settings.zone

    def today() -> dt.date:
        return dt.datetime.now(zone).date()

    return SaleFlow(
        kiosk.service,
        today=today,
        earliest_start_days=settings.sale.earliest_start_days,
        consents=load_consents(settings.path(settings.ui.consents)),
        offices=[f"{o.name}, {o.address}" for o in kiosk.service.config.offices],
        check_url=settings.insurer.check_url,
    )


def freeze_seam(env: Mapping[str, str] | None = None) -> tuple[float, float] | None:
    """The test seam's (after, seconds), or None when ``OSAGO_UI_TEST_FREEZE_AFTER`` is unset or malformed."""
    env = os.environ if env is None else env
    raw = env.get(FREEZE_AFTER)
    if not raw:
        return None
    try:
        after, seconds = float(raw), float(env.get(FREEZE_SECONDS) or 5)
    except ValueError:
        log.error("%s=%r is not a number of seconds; ignored", FREEZE_AFTER, raw)
        return None
    if not (0 <= after <= 3600 and 0 < seconds <= 600):
        log.error("%s / %s out of range; ignored", FREEZE_AFTER, FREEZE_SECONDS)
        return None
    return after, seconds


def build_desk(
    kiosk: Kiosk, settings: KioskSettings, diagnostics: Diagnostics, service_mode: ServiceMode
) -> TechnicianDesk:
    """The technician's screens over the running kiosk's diagnostics and service mode."""
    section = settings.diagnostics
    return TechnicianDesk(
        diagnostics=diagnostics,
        service_mode=service_mode,
        sales=kiosk.service,
        zone=settings.zone,
        media_roots=section.media_roots,
        backup_fallback=settings.data_path(section.backup_dir),
        health_every=section.health_minutes * 60,
    )


def build_context(
    kiosk: Kiosk,
    settings: KioskSettings,
    *,
    service_mode: ServiceMode | None = None,
    watchdog: Watchdog | None = None,
    on_ready: Callable[[], None] | None = None,
    diagnostics: Diagnostics | None = None,
    freeze: tuple[float, float] | None = None,
) -> Any:
    """Everything the app needs (imports Kivy: call after ``configure_kivy``)."""
    from ui.app import UiContext

    flow = build_flow(kiosk, settings)
    desk = None
    if diagnostics is not None and service_mode is not None:
        desk = build_desk(kiosk, settings, diagnostics, service_mode)
    return UiContext(
        flow=flow,
        settings=settings.ui,
        lowest_premium=lowest_premium(kiosk.service.tariffs, flow.earliest()),
        translator=Translator(settings.ui.languages, settings.ui.language),
        service_mode=service_mode,
        watchdog=watchdog,
        on_ready=on_ready,
        technician=desk,
        on_journal_failure=lambda refusal: out_of_service_state(settings, refusal, None),
        test_freeze=freeze,
    )


def out_of_service_state(
    settings: KioskSettings,
    refusal: JournalRefusedError,
    recheck: Callable[[], JournalRefusedError | None] | None,
) -> OutOfService:
    """How long the out-of-service screen stays (backing off over refusals in a row) and what it rechecks."""
    section = settings.ui
    return OutOfService(
        refusal,
        recheck,
        stay=stay_seconds(
            section.out_of_service_minutes,
            section.out_of_service_max_minutes,
            runtime_dir=os.environ.get("RUNTIME_DIRECTORY"),
        ),
        recheck_every=section.out_of_service_recheck_seconds,
        phone=settings.insurer.phone,
    )


def out_of_service_context(
    settings: KioskSettings,
    refusal: JournalRefusedError,
    guard: JournalGuard,
    *,
    service_mode: ServiceMode | None = None,
    watchdog: Watchdog | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Any:
    """The app's context when the journal guard refused the journal: no sale, technician mode only."""
    from ui.app import UiContext

    state = out_of_service_state(settings, refusal, guard.check)
    desk = None
    if service_mode is not None:

        def tiles() -> list[Any]:
            return refused_tiles(
                state.refusal,
                settings.data_dir,
                journal_file=journal_path(settings),
                sidecar_file=sidecar_path(settings),
                disk_red_bytes=settings.data.min_free_mb * MB,
            )

        desk = OutOfServiceDesk(
            service_mode=service_mode,
            zone=settings.zone,
            tiles_of=tiles,
            guard=guard,
            backup_dirs=_backup_places(settings),
            on_restart=state.request_restart,
        )
    return UiContext(
        flow=None,
        settings=settings.ui,
        lowest_premium=None,
        translator=Translator(settings.ui.languages, settings.ui.language),
        service_mode=service_mode,
        watchdog=watchdog,
        on_ready=on_ready,
        technician=desk,
        out_of_service=state,
    )


def _backup_places(settings: KioskSettings) -> Callable[[], list[Path]]:
    """Mounted removable media (looked up anew each time: a stick may be inserted meanwhile) and the backup dir."""
    from kiosk.diagnostics import backup_targets

    section = settings.diagnostics
    fallback = settings.data_path(section.backup_dir)

    def places() -> list[Path]:
        return [t.path for t in backup_targets(section.media_roots, fallback)]

    return places


def run_out_of_service(
    settings: KioskSettings,
    refusal: JournalRefusedError,
    guard: JournalGuard,
    *,
    windowed: bool,
    service_mode: ServiceMode | None = None,
    watchdog: Watchdog | None = None,
    listeners: list[Callable[[Any], None]] | None = None,
) -> int:
    """«Киоск временно не работает» until the journal passes or the time is up; returns 75 (EXIT_REFUSED)."""
    prepare(settings, windowed=windowed)
    from ui.app import KioskApp

    context = out_of_service_context(settings, refusal, guard, service_mode=service_mode, watchdog=watchdog)
    app = KioskApp(context)
    if listeners is not None:
        listeners.append(app.service_mode_changed)
    app.run()
    return app.exit_code or 75


def prepare(settings: KioskSettings, *, windowed: bool) -> None:
    """Configure and load Kivy and every screen's rules (safe to call before the devices are up)."""
    configure_kivy(settings.ui, windowed=windowed, kivy_home=settings.data_dir / "kivy")
    from ui.app import load_rules

    load_rules()


def run_ui(
    kiosk: Kiosk,
    settings: KioskSettings,
    *,
    windowed: bool,
    service_mode: ServiceMode | None = None,
    watchdog: Watchdog | None = None,
    listeners: list[Callable[[Any], None]] | None = None,
    diagnostics: Diagnostics | None = None,
) -> int:
    """Build the app and run it until the window closes (``prepare`` first, or it is done here)."""
    prepare(settings, windowed=windowed)
    from ui.app import KioskApp

    context = build_context(
        kiosk, settings, service_mode=service_mode, watchdog=watchdog, diagnostics=diagnostics, freeze=freeze_seam()
    )
    app = KioskApp(context)
    if listeners is not None:
        listeners.append(app.service_mode_changed)
    clear_refusals()
    app.run()
    exit_code: int = app.exit_code
    return exit_code
