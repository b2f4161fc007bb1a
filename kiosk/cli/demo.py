"""``osago-kiosk demo``: headless sales through the real drivers (``journal`` is in ``kiosk.cli.journal``)."""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import signal
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

from kiosk.cli import Commands, whole_number


def register(cli: Commands) -> None:
    """Add the `demo` command."""
    demo = cli.command("demo", "провести N продаж без экрана через настоящие драйверы и симуляторы", handle_demo)
    demo.add_argument("--sales", type=whole_number, default=1, metavar="N", help="number of sales (default 1)")
    demo.add_argument("--terminal-url", help="terminal URL (default: config, i.e. the ZVT simulator on a pty)")
    demo.add_argument("--printer-url", help="printer URL (default: config, i.e. the ESC/POS simulator)")
    demo.add_argument("--seed", type=int, default=2026, help="sample customers' seed")
    demo.add_argument("--verbose-terminal", action="store_true", help="print the terminal's texts as they come")
    demo.add_argument(
        "--crash-at",
        type=_crash_spec,
        metavar="STEP[:N]",
        help="kill this process (SIGKILL) at checkpoint STEP of the N-th time it is reached (tests of recovery)",
    )
    demo.add_argument("--recover-only", action="store_true", help="run start-up recovery and exit")


def _crash_spec(text: str) -> str:
    step, colon, nth = text.partition(":")
    if not step or (colon and whole_number(nth) < 1):
        raise argparse.ArgumentTypeError(f"STEP или STEP:N (N от 1), а не {text!r}")
    return text


def _crash_hook(spec: str | None) -> Any:
    if not spec:
        return None
    step, _, nth = spec.partition(":")
    target = int(nth or 1)
    seen: collections.Counter[str] = collections.Counter()

    def checkpoint(name: str) -> None:
        seen[name] += 1
        if name == step and seen[name] == target:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def _rub(amount: Decimal | None) -> str:
    return "—" if amount is None else f"{amount:,.2f}".replace(",", " ").replace(".", ",") + " руб."


def handle_demo(args: argparse.Namespace) -> int:
    """Run recovery, then N sample sales; one line per sale and a summary."""
    from kiosk.bootstrap import build_kiosk, start_up
    from kiosk.config import load_settings
    from kiosk.logs import attach_file_log
    from kiosk.sale.retention import purge_personal_data
    from kiosk.sale.samples import sample_customers

    settings = load_settings(args.config)
    attach_file_log(settings.data_dir)
    kiosk = build_kiosk(
        settings, terminal_url=args.terminal_url, printer_url=args.printer_url, checkpoint=_crash_hook(args.crash_at)
    )
    try:
        for item in start_up(kiosk):
            print(f"восстановлено {item.sale_id[:8]}: {item.before} → {item.after} ({item.note})", flush=True)
        purge_personal_data(kiosk.journal, now=kiosk.service.clock(), retention_days=settings.sale.retention_days)
        if args.recover_only:
            return 0
        service = kiosk.service
        start = dt.datetime.now(settings.zone).date() + dt.timedelta(days=settings.sale.earliest_start_days)
        customers = sample_customers(args.sales, start, seed=args.seed)
        states: collections.Counter[str] = collections.Counter()
        charged = Decimal(0)
        began = time.perf_counter()
        on_status = (lambda text: print(f"      терминал: {text}", flush=True)) if args.verbose_terminal else None
        for number, customer in enumerate(customers, start=1):
            sale_id = service.start_sale(action_id=str(uuid.uuid4()))
            view = service.enter(sale_id, customer, action_id=str(uuid.uuid4()))
            service.consent(
                sale_id,
                {"personal_data": "2025-09", "policy_terms": "837-П", "memo": "2026-01"},
                action_id=str(uuid.uuid4()),
            )
            preflight = service.preflight(sale_id)
            if preflight.ready:
                outcome = service.pay(sale_id, action_id=str(uuid.uuid4()), on_status=on_status)
            elif preflight.can_apply:
                outcome = service.apply(sale_id, action_id=str(uuid.uuid4()))
            else:
                service.abandon(sale_id, "preflight: " + preflight.message)
                outcome = service.outcome(sale_id)
            states[outcome.state.value] += 1
            if outcome.state.value == "completed":
                charged += view.quote.premium
            document = outcome.policy or outcome.application or "—"
            receipt = outcome.receipt_no or "—"
            print(
                f"{number:>4}  {outcome.state.value:<18} {_rub(view.quote.premium):>16}  {document:<16} "
                f"чек {receipt:<6}  {outcome.message} {outcome.money}",
                flush=True,
            )
        elapsed = time.perf_counter() - began
        summary = ", ".join(f"{state}: {count}" for state, count in sorted(states.items()))
        print(f"итого: {args.sales} продаж за {elapsed:.1f} с — {summary}; оплачено {_rub(charged)}")
        return 0 if states.get("completed", 0) + states.get("application_issued", 0) == args.sales else 1
    finally:
        kiosk.close()
