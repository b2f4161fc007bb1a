"""``osago-kiosk journal``: the sales in the journal, the guard's verdict, and the technician's restore / init.

::

    osago-kiosk journal [--json] [--limit N]       the sales (after the guard's checks; exit 75 if it refuses)
    osago-kiosk journal check [--json]             the guard's verdict: 0 the kiosk may sell on it, 75 refused
    osago-kiosk journal restore BACKUP             put a verified backup in place (the old file is set aside)
    osago-kiosk journal init --confirm             start a new empty journal (the old file is set aside)

After ``restore`` or ``init`` the kiosk reconciles the journal with the terminal and the central server
at its next start, before it sells. Exit codes: 0 done, 2 bad usage or a backup that cannot be
restored, 75 the guard refuses the journal (``kiosk.journal.guard.EXIT_REFUSED``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from kiosk.cli import Commands, whole_number

__all__ = ["register"]


def register(cli: Commands) -> None:
    """Add the `journal` command and its actions."""
    parser = cli.command("journal", "показать продажи из журнала; проверить, восстановить или начать журнал", _list)
    parser.add_argument("--json", action="store_true", help="a JSON list")
    parser.add_argument("--limit", type=whole_number, default=0, help="only the last N sales")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    check = actions.add_parser("check", help="проверить журнал, как при запуске киоска", description="journal check")
    check.add_argument("--json", action="store_true", help="one JSON object")
    check.set_defaults(handler=_check)
    restore = actions.add_parser("restore", help="восстановить журнал из резервной копии", description="restore")
    restore.add_argument("backup", type=Path, metavar="BACKUP", help="a journal-<kiosk>-<time>.db backup file")
    restore.add_argument("--actor", default=None, help="who restores (default: the login name)")
    restore.set_defaults(handler=_restore)
    init = actions.add_parser("init", help="начать новый пустой журнал (старый файл сохраняется)", description="init")
    init.add_argument("--confirm", action="store_true", help="required: this starts a new, empty journal")
    init.add_argument("--actor", default=None, help="who starts it (default: the login name)")
    init.set_defaults(handler=_init)


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return str(args.actor)[:64]
    try:
        return f"console:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "console"


def _list(args: argparse.Namespace) -> int:
    """List the sales in the journal (no personal data); nothing is created on a fresh installation."""
    from kiosk.bootstrap import journal_guard
    from kiosk.config import load_settings
    from kiosk.sale.report import sale_rows

    settings = load_settings(args.config)
    guarded = journal_guard(settings, server=False).open(create=False)
    rows: list[dict[str, Any]] = []
    if guarded is not None:
        with guarded.journal.session() as session:
            rows = sale_rows(session, args.limit)
        guarded.journal.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for row in rows:
        document = row["policy_number"] or row["application_number"] or "—"
        print(
            f"{row['created_at'][:19]}  {row['id'][:8]}  {row['state']:<18} {row['amount'] or '—':>10}  "
            f"{document:<16}  чек {row['terminal_receipt_no'] or '—'}"
        )
    print(f"всего: {len(rows)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """The guard's checks (against the central server too when it answers)."""
    from kiosk.bootstrap import journal_guard
    from kiosk.config import load_settings
    from kiosk.journal.guard import EXIT_REFUSED, JournalRefusedError, log_refusal

    settings = load_settings(args.config)
    try:
        guarded = journal_guard(settings).open(create=False)
    except JournalRefusedError as exc:
        if args.json:
            print(json.dumps({"ok": False, "code": exc.code.value, "reason": exc.reason, "remedy": exc.remedy},
                             ensure_ascii=False))  # fmt: skip
        else:
            print(f"Журнал не принят: {exc.reason}\nЧто делать: {exc.remedy}")
        log_refusal(exc, "journal check")
        return EXIT_REFUSED
    verdict: dict[str, Any] = {"ok": True, "journal": None}
    if guarded is not None:
        record = guarded.record
        verdict["journal"] = {"id": record.journal_id, "kiosk": record.kiosk_id, "seq": record.seq,
                              "origin": record.origin, "state": record.state,
                              "unrecorded": [n.to_dict() for n in record.notes]}  # fmt: skip
        guarded.journal.close()
    if args.json:
        print(json.dumps(verdict, ensure_ascii=False))
    elif guarded is None:
        print("Журнала ещё нет: он будет создан при первом запуске киоска.")
    else:
        journal = verdict["journal"]
        waits = " Ждёт сверки с терминалом и сервером." if journal["state"] == "reconcile" else ""
        print(f"Журнал {journal['id'][:8]} киоска {journal['kiosk']} исправен: {journal['seq']} изменений.{waits}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from kiosk.bootstrap import journal_guard
    from kiosk.config import load_settings
    from kiosk.journal.restore import RestoreError, restore_backup

    settings = load_settings(args.config)
    try:
        done = restore_backup(journal_guard(settings, server=False), args.backup, actor=_actor(args))
    except RestoreError as exc:
        print(f"journal restore: {exc.message}", file=sys.stderr)
        return 2
    aside = f"; прежний файл сохранён как {done.set_aside}" if done.set_aside else ""
    print(f"Журнал восстановлен из {args.backup}: продаж {done.sales}{aside}.")
    print("При следующем запуске киоск сверит его с терминалом и центральным сервером и только потом начнёт продавать.")
    return 0


def _init(args: argparse.Namespace) -> int:
    from kiosk.bootstrap import journal_guard
    from kiosk.config import load_settings
    from kiosk.journal.restore import start_new_journal

    if not args.confirm:
        print(
            "journal init: начинает новый ПУСТОЙ журнал продаж; прежний файл будет сохранён рядом. "
            "Повторите с --confirm.",
            file=sys.stderr,
        )
        return 2
    settings = load_settings(args.config)
    done = start_new_journal(journal_guard(settings, server=False), actor=_actor(args))
    aside = f" Прежний файл сохранён как {done.set_aside}." if done.set_aside else ""
    print(f"Начат новый журнал {done.journal_id[:8]}.{aside}")
    print("При следующем запуске киоск сверит его с терминалом и центральным сервером и только потом начнёт продавать.")
    return 0
