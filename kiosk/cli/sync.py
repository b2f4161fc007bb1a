"""``osago-kiosk sync``: push the outbox to the central server, pull application statuses, refresh tariffs.

Exit codes: 0 the outbox is empty at the end; 1 the server refused (signature, data) or events remain;
2 not configured (no server URL; key file missing, unreadable or readable by others); 3 the server is
unreachable; 75 the journal guard refused the journal (kiosk.journal.guard). The reason is printed in
plain words on stderr, with progress while events go out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from kiosk.cli import Commands

__all__ = ["register"]


def _sync(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from kiosk.bootstrap import journal_guard, server_client
    from kiosk.config import ConfigError, load_settings
    from kiosk.insurer import GatewayRejectedError
    from kiosk.outbox import pending_count
    from kiosk.privacy import KeyFileError, PersonalDataCipher
    from kiosk.sync import run_sync

    try:
        settings = load_settings(args.config)
        client = server_client(settings, url=args.url)
    except (ConfigError, ValueError, PermissionError, GatewayRejectedError) as exc:
        # GatewayRejectedError here is the key file (missing, unreadable, readable by others): not configured.
        print(f"sync: не настроено: {exc}", file=sys.stderr)
        return 2
    try:
        # The guard's refusal ends the command with exit 75 (kiosk.cli.main); nothing is sent from such a journal.
        guarded = journal_guard(settings).open(create=False)
    except BaseException:
        client.close()
        raise
    if guarded is None:
        client.close()
        print("sync: журнала ещё нет — отправлять нечего", file=sys.stderr)
        return 0
    journal = guarded.journal
    try:
        try:
            cipher: PersonalDataCipher | None = PersonalDataCipher.from_key_file(
                settings.key_file, create=not settings.privacy.key_file
            )
        except KeyFileError as exc:
            print(f"sync: personal data will not be sent: {exc}", file=sys.stderr)
            cipher = None
        with journal.session() as session:
            waiting = pending_count(session)
        every = None if args.tariffs_now else dt.timedelta(hours=settings.server.tariff_update_hours)
        with tqdm(total=waiting, unit="событие", desc="Отправка", file=sys.stderr, disable=args.quiet) as bar:
            report = run_sync(
                journal,
                client,
                kiosk_id=settings.kiosk.id,
                cipher=cipher,
                data_dir=settings.data_dir,
                batch_size=args.batch_size or settings.server.batch_size,
                retention_days=settings.sale.retention_days,
                tariff_every=every,
                on_batch=bar.update,
            )
    finally:
        journal.close()
        client.close()
    tariffs = report.tariffs
    tariff_text = f"тарифы: {tariffs.outcome} {tariffs.version or ''}".rstrip() if tariffs else "тарифы: не проверены"
    print(
        f"sync: отправлено {report.sent}, подтверждено {report.acknowledged} ({report.batches} пакетов), "
        f"осталось {report.remaining}; заявлений обновлено {report.applications_updated}; "
        f"удалено персональных данных {report.purged}; {tariff_text}",
        file=sys.stderr,
    )
    for problem in report.problems[:10]:
        print(f"sync: сервер сохранил, но не разобрал событие {problem}", file=sys.stderr)
    if tariffs is not None and tariffs.outcome == "failed":
        print(f"sync: {tariffs.detail}", file=sys.stderr)
    if report.error is not None:
        print(f"sync: {report.error.reason}", file=sys.stderr)
        return 3 if report.error.unreachable else 1
    return 0 if report.remaining == 0 else 1


def register(cli: Commands) -> None:
    """Add ``osago-kiosk sync``."""
    parser = cli.command("sync", "отправить события на центральный сервер и получить обновления", _sync)
    parser.add_argument("--url", default=None, help="server base URL (default: [server] url)")
    parser.add_argument("--batch-size", type=int, default=None, help="events per batch (default: [server] batch_size)")
    parser.add_argument("--tariffs-now", action="store_true", help="ask for a new tariff bundle even if not due")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
