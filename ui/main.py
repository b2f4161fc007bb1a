"""Start the touchscreen on a built kiosk (``osago-kiosk run`` calls ``run_ui``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from kiosk.bootstrap import Kiosk
from kiosk.config import KioskSettings
from kiosk.sdnotify import Watchdog
from kiosk.service_mode import ServiceMode
from ui.boot import configure_kivy
from ui.i18n import Translator
from ui.presenters.attract import lowest_premium
from ui.presenters.consent import load_consents
from ui.presenters.sale import SaleFlow

__all__ = ["build_context", "prepare", "run_ui"]

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


def build_context(
    kiosk: Kiosk,
    settings: KioskSettings,
    *,
    service_mode: ServiceMode | None = None,
    watchdog: Watchdog | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Any:
    """Everything the app needs (imports Kivy: call after ``configure_kivy``)."""
    from ui.app import UiContext

    flow = build_flow(kiosk, settings)
    return UiContext(
        flow=flow,
        settings=settings.ui,
        lowest_premium=lowest_premium(kiosk.service.tariffs, flow.earliest()),
        translator=Translator(settings.ui.languages, settings.ui.language),
        service_mode=service_mode,
        watchdog=watchdog,
        on_ready=on_ready,
    )


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
) -> int:
    """Build the app and run it until the window closes (``prepare`` first, or it is done here)."""
    prepare(settings, windowed=windowed)
    from ui.app import KioskApp

    app = KioskApp(build_context(kiosk, settings, service_mode=service_mode, watchdog=watchdog))
    if listeners is not None:
        listeners.append(app.service_mode_changed)
    app.run()
    return 0
