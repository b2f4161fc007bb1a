"""``osago-kiosk diag [--json]``: the technician's checks without the screen.

Exit 0 when the kiosk can sell, 1 with the blocking reasons otherwise. It opens the devices itself, so
on a kiosk with real devices run it while the kiosk UI is stopped (a serial port has one owner); the
diagnostics screen shows the same checks while the kiosk runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from kiosk.cli import Commands

_MARK = {"green": "[ OK ]", "yellow": "[WARN]", "red": "[FAIL]"}


def register(cli: Commands) -> None:
    """Add the `diag` command."""
    parser = cli.command(
        "diag", "проверить киоск: принтер, терминал, считыватель, сервер, диск, журнал, тарифы", handle
    )
    parser.add_argument("--json", action="store_true", help="one JSON object: can_sell, reasons, tiles")
    parser.add_argument("--terminal-url", help="terminal URL (default: config)")
    parser.add_argument("--printer-url", help="printer URL (default: config)")
    parser.add_argument(
        "--no-health-event", action="store_true", help="do not queue a device.health event for the server"
    )


def handle(args: argparse.Namespace) -> int:
    """Run every check and print the tiles."""
    from kiosk.bootstrap import build_kiosk, card_reader, diagnostics, server_probe
    from kiosk.config import load_settings
    from kiosk.diagnostics import verdict
    from kiosk.logs import attach_file_log

    settings = load_settings(args.config)
    attach_file_log(settings.data_dir)
    kiosk = build_kiosk(settings, terminal_url=args.terminal_url, printer_url=args.printer_url)
    reader = None
    try:
        with contextlib.suppress(Exception):
            reader = card_reader(settings)
            reader.start(lambda _event: None)
        checks = diagnostics(
            kiosk, reader_status=reader.status if reader else None, server_status=server_probe(settings)
        )
        tiles = checks.tiles()
        can_sell, reasons = verdict(tiles)
        if not args.no_health_event:
            checks.report_health(tiles)
    finally:
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()
        kiosk.close()
    if args.json:
        print(
            json.dumps(
                {"can_sell": can_sell, "reasons": reasons, "tiles": [t.to_dict() for t in tiles]},
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        for tile in tiles:
            print(f"{_MARK[tile.light.value]} {tile.title}: {tile.summary}")
        print("Киоск может продавать полисы." if can_sell else "Продажа невозможна:\n  " + "\n  ".join(reasons))
    sys.stdout.flush()
    return 0 if can_sell else 1
