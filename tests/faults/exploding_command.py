"""A command that fails in a way nobody foresaw, for the tests of the CLIs' last guard."""

from __future__ import annotations

import argparse

from kiosk.cli import Commands


def explode(args: argparse.Namespace) -> int:
    raise RuntimeError("a bug nobody foresaw")


def register(cli: Commands) -> None:
    """Add ``explode``."""
    cli.command("explode", "fail with an unexpected exception", explode)
