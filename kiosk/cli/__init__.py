"""``osago-kiosk``: the kiosk's command line.

Subcommands live in their own modules, each exposing ``register(cli: Commands) -> None``. Modules
are named here as strings and imported with importlib so the kiosk core has no static dependency on
device packages (they are optional at run time and forbidden to ``kiosk`` by the layering contract).
Handlers return the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Callable, Sequence

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
    args = build_parser(modules).parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        code = journal_refusal(exc, args.command)
        if code is None:
            raise
        return code


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
