"""``osago-kiosk run``: the kiosk with its touchscreen on the configured devices.

The UI lives in the ``ui`` package, which the kiosk core must not import (layering): it is loaded
here, inside the handler, by name.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kiosk.cli import Commands

if TYPE_CHECKING:
    from kiosk.bootstrap import Kiosk
    from kiosk.config import KioskSettings
    from kiosk.journal.guard import JournalRefusedError
    from kiosk.sdnotify import Watchdog
    from kiosk.service_access import AccessState, AuditEvent

log = logging.getLogger("kiosk.run")


def register(cli: Commands) -> None:
    """Add the `run` command."""
    run = cli.command("run", "запустить киоск с сенсорным экраном (по умолчанию — на симуляторах)", handle_run)
    run.add_argument("--windowed", action="store_true", help="developer mode: a normal window, cursor, ESC quits")
    run.add_argument("--terminal-url", help="terminal URL (default: config)")
    run.add_argument("--printer-url", help="printer URL (default: config)")


def handle_run(args: argparse.Namespace) -> int:
    """Build the kiosk, recover unfinished sales, purge old personal data, then run the touchscreen.

    When the journal guard refuses the journal the touchscreen shows «Киоск временно не работает»
    (technician mode still works) and the command ends with exit code 75 after a while, so that systemd
    starts it again and the journal is verified afresh (``ui.presenters.out_of_service``).
    """
    from kiosk.bootstrap import build_kiosk, diagnostics, journal_audit, server_probe, service_mode, start_up
    from kiosk.config import load_settings
    from kiosk.journal.guard import JournalRefusedError
    from kiosk.logs import attach_file_log
    from kiosk.sale.retention import purge_personal_data
    from kiosk.sdnotify import Watchdog

    for name in ("ui", "kiosk.run"):
        logging.getLogger(name).setLevel(logging.INFO)
    settings = load_settings(args.config)
    # The technician's screen shows the last lines of this file.
    attach_file_log(settings.data_dir)
    watchdog = Watchdog()
    watchdog.notifier.status("starting devices")
    ui = importlib.import_module("ui.main")
    # The devices (a simulator process, the journal's migrations) start in a thread while this thread
    # loads Kivy: the two overlap, which is most of the cold start.
    started: list[Kiosk] = []
    failed: list[BaseException] = []
    refused: list[JournalRefusedError] = []

    began, timings = time.monotonic(), dict[str, float]()

    def start_devices() -> None:
        try:
            kiosk = build_kiosk(settings, terminal_url=args.terminal_url, printer_url=args.printer_url)
            started.append(kiosk)
            for item in start_up(kiosk):
                log.warning("recovered sale %s: %s -> %s (%s)", item.sale_id[:8], item.before, item.after, item.note)
            purge_personal_data(kiosk.journal, now=kiosk.service.clock(), retention_days=settings.sale.retention_days)
            timings["devices"] = time.monotonic() - began
        except JournalRefusedError as exc:
            refused.append(exc)
            while started:  # reconciliation refused: no device stays open on a kiosk that does not sell
                started.pop().close()
        except BaseException as exc:  # re-raised in the main thread
            failed.append(exc)

    devices = threading.Thread(target=start_devices, name="start-devices")
    devices.start()
    ui.prepare(settings, windowed=args.windowed)
    timings["kivy"] = time.monotonic() - began
    devices.join()
    log.info("started: devices and journal %.2f s, Kivy %.2f s", timings.get("devices", -1), timings["kivy"])
    mode = None
    # The card reader's thread reports here; the UI subscribes once its app exists.
    listeners: list[Callable[[AccessState], None]] = []

    def relay(state: AccessState) -> None:
        for listener in listeners:
            listener(state)

    try:
        if failed:
            raise failed[0]
        if refused:
            return _out_of_service(args, settings, refused[0], relay=relay, listeners=listeners, watchdog=watchdog)
        kiosk = started[0]
        try:
            mode = service_mode(settings, on_change=relay, audit=journal_audit(kiosk.journal))
            mode.start()
        except Exception as exc:  # the kiosk sells without technician mode; diagnostics say why
            log.warning("technician mode unavailable: %s", exc)
            mode = None
        # The technician's checks and actions on this kiosk's own devices (no second connection).
        checks = diagnostics(
            kiosk,
            reader_status=mode.reader_status if mode is not None else None,
            server_status=server_probe(settings),
            sync=True,
        )
        code: int = ui.run_ui(
            kiosk,
            settings,
            windowed=args.windowed,
            service_mode=mode,
            watchdog=watchdog,
            listeners=listeners,
            diagnostics=checks,
        )
        return code
    finally:
        if mode is not None:
            mode.stop()
        watchdog.notifier.close()
        for kiosk in started:
            kiosk.close()


def _out_of_service(
    args: argparse.Namespace,
    settings: KioskSettings,
    refusal: JournalRefusedError,
    *,
    relay: Callable[[AccessState], None],
    listeners: list[Callable[[AccessState], None]],
    watchdog: Watchdog,
) -> int:
    """The journal was refused: the out-of-service screen with technician mode, then exit 75."""
    from kiosk.bootstrap import journal_guard, service_mode
    from kiosk.journal.guard import log_refusal

    log_refusal(refusal, "osago-kiosk run")
    watchdog.notifier.status(f"out of service: journal refused ({refusal.code.value})")
    mode = None
    try:
        # No journal to write the card's events to: they go to the log (no PIN is ever in them).
        mode = service_mode(settings, on_change=relay, audit=_log_audit)
        mode.start()
    except Exception as exc:
        log.warning("technician mode unavailable: %s", exc)
        mode = None
    ui = importlib.import_module("ui.main")
    try:
        code: int = ui.run_out_of_service(
            settings, refusal, journal_guard(settings), windowed=args.windowed, service_mode=mode,
            watchdog=watchdog, listeners=listeners,
        )  # fmt: skip
        return code
    finally:
        if mode is not None:
            mode.stop()


def _log_audit(event: AuditEvent) -> None:
    log.warning("service card %s: %s", event.kind.value, event.card_id if event.verified else "unverified card")
