"""``osago-kiosk``: the kiosk's command line.

Subcommands live in their own modules, each exposing ``register(cli: Commands) -> None``. Modules
are named here as strings and imported with importlib so the kiosk core has no static dependency on
device packages (they are optional at run time and forbidden to ``kiosk`` by the layering contract).
Handlers return the process exit code (``kiosk.crash``; the README's table); ``main`` turns anything a
handler did not foresee into one line on stderr and exit 70, never a traceback (that goes to the log).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]

# Order is the order of `osago-kiosk --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "kiosk.cli.quote",
    "kiosk.cli.demo",
    "kiosk.cli.journal",
    "kiosk.cli.diag",
    "kiosk.cli.terminal",
    "kiosk.cli.printer",
    "kiosk.cli.service_card",
    "kiosk.cli.sync",
    "kiosk.cli.run",
)


class Commands:
    """Registry handed to each command module: top-level commands and `simulate <device>`."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
        self._simulators: argparse._SubParsersAction[argparse.ArgumentParser] | None = None

    def command(self, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        """Add a top-level command; returns its parser for arguments."""
        parser = self._sub.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser

    def simulator(self, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        """Add `osago-kiosk simulate <name>`; returns its parser for arguments."""
        if self._simulators is None:
            sim = self._sub.add_parser("simulate", help="run a device simulator", description="device simulators")
            self._simulators = sim.add_subparsers(dest="device", metavar="DEVICE", required=True)
        parser = self._simulators.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser


def whole_number(text: str) -> int:
    """An argparse type: a whole number >= 0 typed as ASCII digits (argparse says "invalid value" and exits 2)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise argparse.ArgumentTypeError(f"нужно целое неотрицательное число, а не {text!r}")
    return int(text)


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The full argument parser with every command module registered."""
    parser = argparse.ArgumentParser(prog="osago-kiosk", description="Киоск ОСАГО — команды обслуживания")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (repeat for debug)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="kiosk configuration (default: $OSAGO_KIOSK_CONFIG or config/kiosk.toml)",
    )
    commands = Commands(parser)
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            # A command module listed but not merged yet must not take the other commands down.
            logging.getLogger(__name__).debug("command module %s is not installed", name)
            continue
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, modules: Sequence[str] = COMMAND_MODULES) -> int:
    """Entry point of the `osago-kiosk` console script (``modules``: tests may register a subset)."""
    # Whoever starts the kiosk (by hand, as root, under systemd), what it creates is the owner's only:
    # the journal, its -wal/-shm, logs, keys, ledgers, job journals, backups, tariff bundles.
    umask = os.umask(0o077)
    try:
        args = build_parser(modules).parse_args(argv)
        level = logging.WARNING - 10 * min(args.verbose, 2)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return _run(args)
    finally:
        os.umask(umask)


def _run(args: argparse.Namespace) -> int:
    from kiosk.crash import EXIT_INTERRUPTED, report_unexpected

    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `osago-kiosk journal | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        refused = journal_refusal(exc, args.command)
        if refused is not None:
            return refused
        from drivers.cardreader import CardReaderError
        from drivers.payment import TerminalError
        from drivers.printer import PrinterError
        from kiosk.config import ConfigError

        return report_unexpected(
            exc,
            program="osago-kiosk",
            verbose=args.verbose,
            find_log=lambda: _crash_log(args),
            config_error=ConfigError,
            device_error=(TerminalError, PrinterError, CardReaderError),
        )


def _crash_log(args: argparse.Namespace) -> list[Path]:
    """The kiosk's log file for a traceback: the one a command attached, else the configured one."""
    from kiosk.logs import attach_file_log, file_logs

    if not file_logs():
        from kiosk.config import load_settings

        attach_file_log(load_settings(args.config).data_dir)
    return file_logs()


def journal_refusal(exc: BaseException, command: str) -> int | None:
    """The journal guard's refusal (or a journal that cannot be written) as one log line and its exit
    code (75), or None for any other error. Imported late: ``quote`` must not load the database layer."""
    from kiosk.journal.db import JournalWriteError
    from kiosk.journal.guard import EXIT_REFUSED, JournalRefusedError, log_refusal

    if isinstance(exc, JournalRefusedError):
        return log_refusal(exc, command)
    if isinstance(exc, JournalWriteError):
        logging.getLogger("kiosk.journal").error(
            "journal not writable: %s — no sale on it; %s exits %d", exc, command, EXIT_REFUSED
        )
        return EXIT_REFUSED
    return None
