"""``osago-server``: run the central server, provision kiosks and operators, price renewals.

    osago-server serve [--host H] [--port P] [--db URL] [--workers N]
    osago-server migrate
    osago-server kiosk add KIOSK-ID [--key-file PATH] [--rotate] | kiosk list | kiosk disable KIOSK-ID
    osago-server operator add NAME [--password-stdin] | operator hash [--password-stdin]
    osago-server renewals [--date YYYY-MM-DD] [--workers N]
    osago-server keys status | keys add | keys rotate [--batch N] [--quiet] | keys prune

Every command takes ``--config FILE`` (default $OSAGO_SERVER_CONFIG, else config/server.toml) and
``--db URL`` (default: the config's database, else SQLite in the data directory).

Exit codes (the README's table): 0 done; 1 refused (a kiosk that exists or does not, renewals that
failed); 2 bad arguments, configuration or encryption key file (also a --db URL SQLAlchemy cannot read); 3 the database
cannot be reached; 74 a file cannot be read or written (data directory, SQLite file, key file);
70 anything unforeseen (one line on stderr, the traceback in ``<data dir>/logs/server.log``); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from kiosk.crash import EXIT_INTERRUPTED, EXIT_IO, EXIT_UNREACHABLE, EXIT_USAGE, report_unexpected
from kiosk.logs import attach_file_log, file_logs
from server.config import ServerConfigError, ServerSettings, load_server_settings
from server.keys import KeyringError

__all__ = ["build_parser", "main"]

log = logging.getLogger("osago-server")


def _settings(args: argparse.Namespace) -> ServerSettings:
    overrides: dict[str, object] = {}
    if args.db:
        overrides["database"] = {"url": args.db}
    return load_server_settings(args.config, **overrides)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Пароль: ")
    if getpass.getpass("Ещё раз: ") != first:
        raise SystemExit("пароли не совпадают")
    return first


def cmd_serve(args: argparse.Namespace) -> int:
    """Migrate the database and serve HTTP until stopped (SIGTERM/SIGINT)."""
    import uvicorn

    from server.app import create_app, open_server_database, settle_collector

    settings = _settings(args)
    host = args.host or settings.http.host
    port = settings.http.port if args.port is None else args.port
    workers = args.workers or settings.http.workers
    database = open_server_database(settings)
    log.info("database %s at revision %s", database.engine.url.render_as_string(), database.head_revision())
    # The application reads X-Forwarded-* itself, from [http] trusted_proxies only (server.app).
    options = {
        "proxy_headers": False,
        "server_header": False,
        "log_level": args.log_level,
        "access_log": args.access_log,
    }
    if workers == 1:
        app = create_app(settings, database=database)
        settle_collector()
        uvicorn.run(app, host=host, port=port, **options)
        return 0
    database.close()
    # Worker processes build the app from the environment: pass them what the command line changed.
    os.environ["OSAGO_SERVER_CONFIG"] = str(settings.source)
    os.environ["OSAGO_SERVER_DATABASE__URL"] = settings.database_url
    uvicorn.run("server.app:app_from_env", factory=True, host=host, port=port, workers=workers, **options)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the schema."""
    from server.app import open_server_database

    database = open_server_database(_settings(args))
    print(f"schema at revision {database.head_revision()}")
    database.close()
    return 0


def cmd_kiosk(args: argparse.Namespace) -> int:
    """Provision, list or disable kiosks."""
    from sqlalchemy import select

    from kiosk.signing import new_key, write_key_file
    from server.app import open_server_database
    from server.models import Kiosk

    database = open_server_database(_settings(args))
    try:
        if args.action == "list":
            with database.session() as session:
                for row in session.scalars(select(Kiosk).order_by(Kiosk.id)):
                    seen = row.last_seen_at.isoformat() if row.last_seen_at else "never"
                    print(f"{row.id}\t{'enabled' if row.enabled else 'disabled'}\tlast seen {seen}")
            return 0
        if not args.kiosk_id:
            print("kiosk id required", file=sys.stderr)
            return EXIT_USAGE
        if not _KIOSK_ID.fullmatch(args.kiosk_id):
            rule = "1-64 Latin letters, digits and : . _ - (first a letter or digit)"
            print(f"a kiosk id is {rule}, not {args.kiosk_id!r}", file=sys.stderr)
            return EXIT_USAGE
        with database.transaction() as session:
            kiosk: Kiosk | None = session.get(Kiosk, args.kiosk_id)
            if args.action == "disable":
                if kiosk is None:
                    print(f"no kiosk {args.kiosk_id}", file=sys.stderr)
                    return 1
                kiosk.enabled = False
                return 0
            if kiosk is not None and not args.rotate:
                print(f"kiosk {args.kiosk_id} exists (use --rotate for a new secret)", file=sys.stderr)
                return 1
            secret = new_key()
            if kiosk is None:
                session.add(Kiosk(id=args.kiosk_id, secret=secret, enabled=True, created_at=dt.datetime.now(dt.UTC)))
            else:
                kiosk.secret, kiosk.enabled = secret, True
        if args.key_file:
            write_key_file(args.key_file, secret)
            print(f"secret of {args.kiosk_id} written to {args.key_file} (mode 0600)", file=sys.stderr)
        print(secret)
        return 0
    finally:
        database.close()


def cmd_operator(args: argparse.Namespace) -> int:
    """Add a dashboard operator, or print a password hash for the config file."""
    from server.auth import OperatorAuth, PasswordHash

    try:
        password = _password(args)
        if args.action == "hash":
            print(PasswordHash.create(password))
            return 0
        from server.app import open_server_database

        settings = _settings(args)
        database = open_server_database(settings)
        OperatorAuth(database, {}, settings.reports.session_hours).add(args.name, password)
        database.close()
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"operator {args.name} saved", file=sys.stderr)
    return 0


def cmd_renewals(args: argparse.Namespace) -> int:
    """Reprice every policy expiring within the horizon of ``--date`` (progress on stderr)."""
    from tqdm import tqdm

    from server.app import open_server_database
    from server.renewals import due_policies, renew

    settings = _settings(args)
    day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(settings.zone).date()
    database = open_server_database(settings)
    horizon = settings.reports.renewal_days
    total = len(due_policies(database, day, settings.zone, horizon))
    with tqdm(total=total, unit="полис", desc="Продление", file=sys.stderr, disable=args.quiet) as bar:
        priced, failed = renew(
            database,
            day,
            settings.zone,
            settings.path(settings.tariffs.dir),
            settings.path(settings.tariffs.base_rates),
            horizon_days=horizon,
            workers=args.workers,
            progress=bar.update,
        )
    database.close()
    print(f"renewals for {day.isoformat()} (+{horizon} days): {priced} priced, {failed} failed")
    return 0 if failed == 0 else 1


def cmd_keys(args: argparse.Namespace) -> int:
    """Show, add, rotate to, or prune the encryption keys (``server.rotation``)."""
    from tqdm import tqdm

    from server.app import open_server_database
    from server.keys import Keyring, add_key, key_id, write_key_file
    from server.rotation import keys_in_use, left_to_rotate, rotate

    settings = _settings(args)
    file = settings.key_file
    if args.action == "add":
        # The database must open with the present keys first: never add to the wrong file.
        open_server_database(settings).close()
        kid = add_key(file)
        print(f"key {kid} added to {file}: it seals new data once the servers reload the file (within seconds);")
        print("now run `osago-server keys rotate` to re-encrypt what older keys sealed")
        return 0
    database = open_server_database(settings)
    try:
        keyring = database.keyring
        assert keyring is not None
        if args.action == "status":
            used = keys_in_use(database)
            for kid in keyring.ids:
                role = "seals new data" if kid == keyring.primary_id else "opens only"
                print(f"{kid}\t{role}\t{used.pop(kid, 0)} values")
            for kid, count in sorted(used.items()):
                print(f"{kid}\tMISSING from {file}\t{count} values", file=sys.stderr)
            print(f"{left_to_rotate(database, keyring)} rows to rotate")
            return 1 if used else 0
        if args.action == "rotate":
            changed = 0
            # Again until nothing is left: a server that had not reloaded the file may have sealed a row
            # with the older key meanwhile.
            while (left := left_to_rotate(database, keyring)) > 0:
                with tqdm(total=left, unit="строк", desc="Перешифрование", file=sys.stderr, disable=args.quiet) as bar:
                    changed += rotate(database, keyring, batch=args.batch, progress=bar.update)
            print(f"{changed} rows re-encrypted with key {keyring.primary_id}; every value is under it now")
            return 0
        # prune
        used = keys_in_use(database)
        keep = [kid for kid in keyring.ids if kid == keyring.primary_id or used.get(kid)]
        dropped = [kid for kid in keyring.ids if kid not in keep]
        if dropped:
            lines = [line.strip() for line in file.read_bytes().splitlines() if line.strip()]
            write_key_file(file, [line for line in lines if key_id(line) in keep])
            Keyring.from_file(file)  # still a valid file
        still = [kid for kid in keep if kid != keyring.primary_id]
        print(f"dropped {len(dropped)} keys ({', '.join(dropped) or 'none'}); kept {', '.join(keep)}")
        if still:
            print(f"keys {', '.join(still)} still seal data: run `osago-server keys rotate` first", file=sys.stderr)
            return 1
        return 0
    finally:
        database.close()


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"a TCP port is 0-65535, not {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 256):
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 256, not {text!r}")
    return int(text)


def _day(text: str) -> str:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a date as YYYY-MM-DD, not {text!r}") from None
    return text


#: the kiosk id as the kiosk API accepts it (server.schemas.Id): a kiosk with another id could never sign in
_KIOSK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,63}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="osago-server", description="Центральный сервер ОСАГО")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=None, help="server configuration (TOML)")
    common.add_argument(
        "--db", metavar="URL", default=None, help="database URL (sqlite:///… or postgresql+psycopg://…)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP server")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=_port, default=None)
    serve.add_argument("--workers", type=_positive, default=None, help="uvicorn worker processes")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", parents=[common], help="create or upgrade the database schema")
    migrate.set_defaults(handler=cmd_migrate)

    kiosk = sub.add_parser("kiosk", parents=[common], help="provision kiosks (per-kiosk signing secrets)")
    kiosk.add_argument("action", choices=["add", "list", "disable"])
    kiosk.add_argument("kiosk_id", nargs="?")
    kiosk.add_argument("--key-file", help="also write the secret to this file (mode 0600) for the kiosk")
    kiosk.add_argument("--rotate", action="store_true", help="replace the secret of an existing kiosk")
    kiosk.set_defaults(handler=cmd_kiosk)

    operator = sub.add_parser("operator", parents=[common], help="dashboard operators")
    operator.add_argument("action", choices=["add", "hash"])
    operator.add_argument("name", nargs="?", default="")
    operator.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    operator.set_defaults(handler=cmd_operator)

    renewals = sub.add_parser("renewals", parents=[common], help="price renewals of policies expiring soon")
    renewals.add_argument("--date", type=_day, default=None, help="today's date (YYYY-MM-DD; default: today)")
    renewals.add_argument("--workers", type=_positive, default=None, help="processes (default: every core)")
    renewals.add_argument("--quiet", action="store_true", help="no progress bar")
    renewals.set_defaults(handler=cmd_renewals)

    keys = sub.add_parser(
        "keys", parents=[common], help="encryption keys of personal data (status, add, rotate, prune)"
    )
    keys.add_argument("action", choices=["status", "add", "rotate", "prune"])
    keys.add_argument("--batch", type=int, default=500, help="rows re-encrypted per transaction (rotate)")
    keys.add_argument("--quiet", action="store_true", help="no progress bar")
    keys.set_defaults(handler=cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``osago-server`` console script."""
    # server.db (and its -wal/-shm), key files and logs are the owner's only, whoever starts the server.
    umask = os.umask(0o077)
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.WARNING - 10 * min(args.verbose, 2) if args.command != "serve" else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        if args.command == "operator" and args.action == "add" and not args.name:
            print("operator add needs a NAME", file=sys.stderr)
            return EXIT_USAGE
        return _run(args)
    finally:
        os.umask(umask)


def _run(args: argparse.Namespace) -> int:
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
        return code
    except (ServerConfigError, KeyringError) as exc:
        what = "configuration" if isinstance(exc, ServerConfigError) else "encryption keys"
        print(f"{what}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        from sqlalchemy.exc import ArgumentError, OperationalError

        if isinstance(exc, ArgumentError):  # --db or [database] url that SQLAlchemy cannot read
            print(f"osago-server: адрес базы данных не принят: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, OperationalError) and exc.orig is not None:
            reason = (str(exc.orig).strip().splitlines() or ["?"])[0]
            if isinstance(exc.orig, sqlite3.Error):  # the file: unreadable, read-only, disk full
                print(f"osago-server: ошибка ввода-вывода базы данных SQLite: {reason}", file=sys.stderr)
                return EXIT_IO
            print(f"osago-server: база данных недоступна: {reason}", file=sys.stderr)
            return EXIT_UNREACHABLE
        return report_unexpected(exc, program="osago-server", verbose=args.verbose, find_log=lambda: _crash_log(args))


def _crash_log(args: argparse.Namespace) -> list[Path]:
    """``<data dir>/logs/server.log`` for the traceback (the server logs to stderr otherwise)."""
    attach_file_log(_settings(args).data_dir, name="server.log")
    return file_logs()
