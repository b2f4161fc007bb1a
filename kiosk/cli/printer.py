"""``osago-kiosk printer`` (status, print samples, preview) and ``osago-kiosk simulate printer``.

The printer is opened by URL through ``drivers.printer.open_printer``; the simulator module is loaded
with importlib because it pulls in python-escpos, which the kiosk package must not import.

Exit codes: 0 ready / printed; 1 not ready / not printed (also a path that is not a printer, or
someone else's file); 2 a bad URL (scheme, option, missing path) or profile — one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from drivers.printer import (
    PrinterError,
    PrinterURLError,
    ProfileError,
    ReceiptPrinter,
    available_profiles,
    load_profile,
    open_printer,
    parse_url,
)
from drivers.printer.compose import plain_text
from kiosk.cli import Commands
from kiosk.documents.samples import SAMPLE_CHECK_URL_BASE, SAMPLE_KINDS, sample_document

DEFAULT_URL = "sim://printer"
URL_ENV = "OSAGO_PRINTER_URL"


def register(cli: Commands) -> None:
    """Add ``printer`` and ``simulate printer``."""
    parser = cli.command("printer", "receipt printer: status, sample prints, previews", _no_action)
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"printer URL (default ${URL_ENV} or {DEFAULT_URL}); e.g. escpos+tcp://127.0.0.1:9100?profile=epson-80",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    status = actions.add_parser("status", help="read the printer status (exit 0 ready, 1 not ready)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_status)

    print_ = actions.add_parser("print", help="print a document (exit 0 printed, 1 failed)")
    print_.add_argument("kind", choices=SAMPLE_KINDS)
    print_.add_argument("--sample", action="store_true", required=True, help="use the built-in sample data")
    print_.add_argument("--check-url-base", default=SAMPLE_CHECK_URL_BASE, help="base of the policy check URL")
    print_.add_argument("--force", action="store_true", help="send even when the pre-check says not ready")
    print_.add_argument("--json", action="store_true", help="print the result as JSON")
    print_.set_defaults(handler=_print)

    preview = actions.add_parser("preview", help="show a sample document as text for the URL's profile")
    preview.add_argument("kind", choices=SAMPLE_KINDS)
    preview.add_argument("--sample", action="store_true", required=True, help="use the built-in sample data")
    preview.add_argument("--check-url-base", default=SAMPLE_CHECK_URL_BASE)
    preview.set_defaults(handler=_preview)

    sim = cli.simulator("printer", "ESC/POS printer simulator on a loopback TCP port", _simulate)
    sim.add_argument("--port", type=_port, default=9100, help="printer port on 127.0.0.1 (0 = any free port)")
    sim.add_argument("--control-port", type=_port, default=None, help="control port for run-time faults (0 = any)")
    sim.add_argument("--fault", action="append", default=[], help="start with a fault (repeatable)")
    sim.add_argument("--jobs", type=Path, default=None, help="append-only JSON-lines journal of finished jobs")
    sim.add_argument("--profile", default="epson-80", help=f"printer profile: {', '.join(available_profiles())}")
    sim.add_argument("--paper-lines", type=int, default=None, help="paper left, in lines (default endless)")


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"порт от 0 до 65535, а не {text!r}")
    return int(text)


def _no_action(args: argparse.Namespace) -> int:  # pragma: no cover - argparse requires an action
    return 2


EXIT_BAD_URL = 2


def _open(url: str) -> ReceiptPrinter | None:
    """The printer, or None after one line on stderr for a URL or profile the driver refuses."""
    try:
        return open_printer(url)
    except (PrinterURLError, ProfileError) as exc:
        print(f"ошибка: адрес принтера не принят: {exc}", file=sys.stderr)
        return None


def _status(args: argparse.Namespace) -> int:
    printer = _open(args.url)
    if printer is None:
        return EXIT_BAD_URL
    try:
        report = printer.status()
    finally:
        printer.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
    return 0 if report.ready else 1


def _print(args: argparse.Namespace) -> int:
    printer = _open(args.url)
    if printer is None:
        return EXIT_BAD_URL
    try:
        status = printer.status() if args.kind == "test" else None
        document = sample_document(args.kind, printer.profile, check_url_base=args.check_url_base,
                                   status=status, printer_url=args.url)  # fmt: skip
        result = printer.print_document(document, precheck=not args.force)
    except PrinterError as exc:
        print(f"ошибка принтера: {exc}", file=sys.stderr)
        return 1
    finally:
        printer.close()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.ok:
        print(f"{args.kind}: напечатано ({result.bytes_sent} байт)")
    else:
        failed_status = result.after or result.before
        print(f"{args.kind}: не напечатано - {failed_status.summary()}")
    return 0 if result.ok else 1


def _preview(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(_profile_of(args.url))
    except (PrinterURLError, ProfileError) as exc:
        print(f"ошибка: адрес принтера не принят: {exc}", file=sys.stderr)
        return EXIT_BAD_URL
    document = sample_document(args.kind, profile, check_url_base=args.check_url_base, printer_url=args.url)
    sys.stdout.write(plain_text(document, profile))
    return 0


def _profile_of(url: str) -> str:
    return parse_url(url).param("profile", "epson-80") or "epson-80"


def _simulate(args: argparse.Namespace) -> int:
    simulator_module: Any = importlib.import_module("drivers.printer.simulator")
    simulator = simulator_module.PrinterSimulator(
        load_profile(args.profile),
        port=args.port,
        control_port=args.control_port,
        jobs_path=args.jobs,
        faults=[f for value in args.fault for f in value.split(",") if f],
        paper_lines=args.paper_lines,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with simulator:
        host, port = simulator.address
        control = simulator.control_address
        print(json.dumps({
            "printer": f"{host}:{port}",
            "control": None if control is None else f"{control[0]}:{control[1]}",
            "profile": args.profile,
            "jobs": None if args.jobs is None else str(args.jobs),
        }), flush=True)  # fmt: skip
        stop.wait()
    return 0
