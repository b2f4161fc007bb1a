"""``osago-kiosk quote --input FILE|-``: price one request of the quote contract.

Prints exactly one JSON object on stdout. Bad input: exit 2 and ``{"error": ..., "field": ...}``.
A broken installation (tariff tables that fail validation): exit 1 with the same shape.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from kiosk.cli import Commands

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2
EXIT_BROKEN = 1


def register(cli: Commands) -> None:
    """Add the `quote` command."""
    parser = cli.command("quote", "рассчитать премию ОСАГО по JSON-запросу (контракт в README)", handle)
    parser.add_argument("--input", required=True, metavar="FILE", help="JSON file with the request, or - for stdin")


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")


def handle(args: argparse.Namespace) -> int:
    """Read, validate, price, print."""
    from kiosk.bootstrap import tariff_engine
    from kiosk.config import ConfigError, load_settings
    from kiosk.tariffs import TariffTableError, decode_json, parse_request, quote_to_json
    from kiosk.validation import FieldError

    try:
        text = sys.stdin.read() if args.input == "-" else open(args.input, encoding="utf-8").read()  # noqa: SIM115
    except (OSError, UnicodeDecodeError) as exc:
        _emit({"error": f"Не удалось прочитать запрос: {exc}", "field": "$"})
        return EXIT_BAD_INPUT
    try:
        engine = tariff_engine(load_settings(args.config))
    except (ConfigError, TariffTableError, OSError) as exc:
        log.error("tariff configuration is broken: %s", exc)
        _emit({"error": f"Тарифы киоска не загружены: {exc}", "field": ""})
        return EXIT_BROKEN
    try:
        quote = engine.quote(parse_request(decode_json(text)))
    except FieldError as exc:
        _emit({"error": exc.message, "field": exc.field})
        return EXIT_BAD_INPUT
    _emit(quote_to_json(quote))
    return 0
