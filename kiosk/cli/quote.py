"""``osago-kiosk quote --input FILE|-``: price one request of the quote contract.

Prints exactly one JSON object on stdout. Bad input: exit 2 and ``{"error": ..., "field": ...}``.
A broken installation (tariff tables that fail validation): exit 1 with the same shape.

The request is read up to :data:`MAX_REQUEST_BYTES`: a bigger one is refused after reading one byte
more than the limit, never read whole (a 200 MB file or an endless ``/dev/zero`` costs 64 KiB).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import IO, TYPE_CHECKING, Any

from kiosk.cli import Commands

if TYPE_CHECKING:
    from kiosk.tariffs import TariffEngine

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2
EXIT_BROKEN = 1
#: The largest request accepted (a real one is well under 2 KiB: five drivers and a vehicle).
MAX_REQUEST_BYTES = 64 * 1024


def register(cli: Commands) -> None:
    """Add the `quote` command."""
    parser = cli.command("quote", "рассчитать премию ОСАГО по JSON-запросу (контракт в README)", handle)
    parser.add_argument("--input", required=True, metavar="FILE", help="JSON file with the request, or - for stdin")


def _emit(payload: dict[str, Any]) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate quoted back from the request: escape, still one JSON line
        text = json.dumps(payload)
    sys.stdout.write(text + "\n")


def read_request(stream: IO[bytes], limit: int = MAX_REQUEST_BYTES) -> bytes | None:
    """At most ``limit`` bytes of the request, or None when there are more (the rest is not read)."""
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def answer(data: bytes, engine: TariffEngine) -> tuple[int, dict[str, Any]]:
    """The exit code and the one JSON object for a request's bytes (never raises for any input)."""
    from kiosk.tariffs import decode_json, parse_request, quote_to_json
    from kiosk.validation import FieldError

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return EXIT_BAD_INPUT, {"error": f"Запрос не в кодировке UTF-8 (байт {exc.start})", "field": "$"}
    try:
        return 0, quote_to_json(engine.quote(parse_request(decode_json(text))))
    except FieldError as exc:
        return EXIT_BAD_INPUT, {"error": exc.message, "field": exc.field}


def handle(args: argparse.Namespace) -> int:
    """Read, validate, price, print."""
    from kiosk.bootstrap import tariff_engine
    from kiosk.config import ConfigError, load_settings
    from kiosk.tariffs import TariffTableError

    try:
        if args.input == "-":
            data = read_request(sys.stdin.buffer)
        else:
            with open(args.input, "rb") as source:
                data = read_request(source)
    except OSError as exc:
        _emit({"error": f"Не удалось прочитать запрос: {exc.strerror or exc}", "field": "$"})
        return EXIT_BAD_INPUT
    if data is None:
        _emit({"error": f"Запрос больше {MAX_REQUEST_BYTES // 1024} КиБ", "field": "$"})
        return EXIT_BAD_INPUT
    try:
        engine = tariff_engine(load_settings(args.config))
    except (ConfigError, TariffTableError, OSError) as exc:
        log.error("tariff configuration is broken: %s", exc)
        _emit({"error": f"Тарифы киоска не загружены: {exc}", "field": ""})
        return EXIT_BROKEN
    code, payload = answer(data, engine)
    _emit(payload)
    return code
