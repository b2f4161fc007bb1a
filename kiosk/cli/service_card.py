"""``osago-kiosk service-card``: provision technicians' service cards, and try one on the reader.

* ``pin-hash``: the salted scrypt hash of a PIN for ``[[service_card.cards]] pin`` (the PIN is read
  without echo, or one line from stdin with ``--stdin``; it is never printed or logged);
* ``card-key ID``: the 32-byte key (hex) to personalise card ``ID`` with, derived from the master key;
* ``check``: wait for a card on the configured reader, authenticate it, ask its PIN, report the verdict
  (a real attempt: wrong PINs count towards the lockout and are journaled like on the screen).
"""

from __future__ import annotations

import argparse
import getpass
import json
import queue
import sys

from kiosk.cli import Commands

__all__ = ["register"]


def register(cli: Commands) -> None:
    """Add ``service-card`` with its subcommands."""
    parser = cli.command("service-card", "service cards: PIN hashes, card keys, try a card", _usage)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pin = sub.add_parser("pin-hash", help="hash a PIN for the config")
    pin.add_argument("--stdin", action="store_true", help="read the PIN from one line of stdin (no prompt)")
    pin.set_defaults(handler=_pin_hash)
    key = sub.add_parser("card-key", help="the key to write into a card (hex)")
    key.add_argument("card_id", metavar="CARD_ID")
    key.add_argument("--master-key", metavar="FILE", help="master key file (default: from the config)")
    key.set_defaults(handler=_card_key)
    check = sub.add_parser("check", help="authenticate a card on the configured reader and ask its PIN")
    check.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a card (default 60)")
    check.add_argument("--stdin", action="store_true", help="read the PIN from one line of stdin")
    check.set_defaults(handler=_check)


def _usage(args: argparse.Namespace) -> int:
    return 2


def _read_pin(from_stdin: bool, *, confirm: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().strip()
    pin = getpass.getpass("PIN: ")
    if confirm and getpass.getpass("PIN again: ") != pin:
        raise ValueError("the two PINs differ")
    return pin


def _pin_hash(args: argparse.Namespace) -> int:
    from kiosk.service_access import PinHash

    try:
        print(PinHash.create(_read_pin(args.stdin, confirm=True)))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _card_key(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kiosk.config import load_settings
    from kiosk.service_access import KeyFileError, derive_card_key, load_master_key

    try:
        if args.master_key:
            path = Path(args.master_key)
        else:
            settings = load_settings(args.config)
            path = settings.path(settings.service_card.master_key_file)
        key = derive_card_key(load_master_key(path), args.card_id)
    except (KeyFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        "warning: this key opens the kiosk with this card's PIN; write it into the card and do not keep it",
        file=sys.stderr,
    )
    print(key.hex())
    return 0


def _check(args: argparse.Namespace) -> int:
    from drivers.cardreader import CardReaderError
    from kiosk import bootstrap
    from kiosk.config import ConfigError, load_settings
    from kiosk.service_access import AccessState, KeyFileError, Phase

    states: queue.Queue[AccessState] = queue.Queue()
    audit: list[dict[str, object]] = []
    try:
        settings = load_settings(args.config)
        mode = bootstrap.service_mode(settings, on_change=states.put, audit=lambda event: audit.append(event.as_dict()))
    except (ConfigError, KeyFileError, CardReaderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"insert a service card into {settings.cardreader.url} ...", file=sys.stderr)
    mode.start()
    try:
        state = mode.state
        while state.phase in (Phase.NO_CARD, Phase.CHECKING):
            try:
                state = states.get(timeout=args.timeout)
            except queue.Empty:
                print(json.dumps({"result": "no_card", "reader": mode.reader_status().problems()}))
                return 1
        if state.phase is Phase.AWAITING_PIN:
            mode.enter_pin(_read_pin(args.stdin, confirm=False))
        state = mode.state
    finally:
        # Stopping closes an open session, so its closing is in the audit printed below.
        mode.stop()
    verdict = {
        "result": state.phase.value,
        "card_id": state.card_id,
        "reason": state.reason,
        "attempts_left": state.attempts_left,
        "audit": audit,
    }
    print(json.dumps(verdict, default=str))
    return 0 if state.is_open else 1
