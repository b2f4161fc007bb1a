"""``osago-kiosk terminal`` (technician's payment terminal tool) and ``osago-kiosk simulate terminal``.

    osago-kiosk terminal --url URL status|register|pay AMOUNT|reverse RECEIPT|refund AMOUNT|
                               end-of-day|diagnosis|repeat-receipt [--json]

``pay`` runs the whole issue-of-goods dialogue and confirms the goods at once (a test payment).
Exit codes: 0 done/approved, 1 declined or not ready, 2 bad usage (an amount that is not ASCII digits
with at most two decimals such as "1234.56", a receipt number that is not 1-4 digits, a URL the driver
does not accept), 3 the terminal could not be reached or failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivers.payment import PaymentTerminal, TransactionResult
    from kiosk.cli import Commands

URL_ENV = "OSAGO_TERMINAL_URL"
ACTIONS = ("status", "register", "pay", "reverse", "refund", "end-of-day", "diagnosis", "repeat-receipt")


def register(cli: Commands) -> None:
    """Add the ``terminal`` command and the ``simulate terminal`` simulator."""
    parser = cli.command("terminal", "платёжный терминал (ZVT): проверка и тестовые операции", run)
    parser.add_argument("--url", default=os.environ.get(URL_ENV), help=f"terminal URL (default: ${URL_ENV})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("status", parents=[common], help="готов ли терминал")
    actions.add_parser("register", parents=[common], help="регистрация кассы на терминале")
    actions.add_parser("pay", parents=[common], help="тестовая оплата с подтверждением").add_argument("amount")
    actions.add_parser("reverse", parents=[common], help="отмена оплаты по номеру чека").add_argument("receipt")
    actions.add_parser("refund", parents=[common], help="возврат суммы на карту").add_argument("amount")
    actions.add_parser("end-of-day", parents=[common], help="закрытие смены (итоги)")
    actions.add_parser("diagnosis", parents=[common], help="диагностика терминала")
    actions.add_parser("repeat-receipt", parents=[common], help="последняя операция терминала")
    from drivers.payment.simulator import build_parser

    build_parser(cli.simulator("terminal", "симулятор платёжного терминала ZVT (pty или TCP)", simulate))


def simulate(args: argparse.Namespace) -> int:
    """``osago-kiosk simulate terminal``: the simulator in this process."""
    from drivers.payment.simulator import run as run_simulator

    if args.tcp is not None:
        _, _, port = args.tcp.rpartition(":")
        if not (port.isascii() and port.isdigit() and int(port) <= 65535):
            print(f"ошибка: --tcp HOST:PORT, порт от 0 до 65535, а не {args.tcp!r}", file=sys.stderr)
            return 2
    return run_simulator(args)


def _amount(text: str) -> Decimal | None:
    """The amount typed, by the one rule (``kiosk.money.parse_amount``: ASCII digits, two decimals)."""
    from drivers.payment import validate_amount
    from drivers.payment.errors import InvalidAmountError

    try:
        return validate_amount(text)
    except InvalidAmountError:
        return None


def _emit(args: argparse.Namespace, data: dict[str, Any], human: list[str]) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        print("\n".join(human))


def _transaction_lines(result: TransactionResult, title: str) -> list[str]:
    verdict = "одобрено" if result.approved else f"не выполнено ({result.outcome.value})"
    lines = [f"{title}: {verdict}", f"  код результата: {result.result_code} — {result.result_text}"]
    for label, value in (
        ("сумма", result.amount),
        ("чек", result.receipt_no),
        ("trace", result.trace),
        ("карта", result.masked_pan),
        ("код авторизации", result.auth_code),
        ("терминал", result.terminal_id),
        ("итог", result.fate.value),
    ):
        if value is not None:
            lines.append(f"  {label}: {value}")
    return lines + [f"  | {line}" for line in result.receipt_lines]


def run(args: argparse.Namespace) -> int:
    """Handler of ``osago-kiosk terminal``."""
    if not args.url:
        print(f"ошибка: укажите --url или переменную {URL_ENV}", file=sys.stderr)
        return 2
    amount: Decimal | None = None
    if args.action in ("pay", "refund"):
        amount = _amount(args.amount)
        if amount is None:
            rule = "цифры 0–9 вида 1234.56, больше нуля и не больше 1 000 000, до двух знаков после точки"
            print(f"ошибка: сумма — {rule}; получено {args.amount!r}", file=sys.stderr)
            return 2
    if args.action == "reverse" and not (args.receipt.isascii() and args.receipt.isdigit() and len(args.receipt) <= 4):
        print(f"ошибка: номер чека — до четырёх цифр, а не {args.receipt!r}", file=sys.stderr)
        return 2
    from drivers.payment import TerminalError, open_terminal

    try:
        terminal = open_terminal(args.url)
    except ValueError as exc:
        print(f"ошибка: адрес терминала не принят: {exc}", file=sys.stderr)
        return 2
    except TerminalError as exc:
        print(f"ошибка: терминал недоступен: {exc}", file=sys.stderr)
        return 3
    try:
        return _ACTIONS[args.action](terminal, args, amount)
    except TerminalError as exc:
        print(f"ошибка терминала: {exc}", file=sys.stderr)
        return 3
    finally:
        terminal.close()


def _status(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    from drivers.payment import TerminalError

    with contextlib.suppress(TerminalError):  # the status enquiry below says why
        terminal.register()  # the completion's status byte says whether it runs as a vending machine
    status = terminal.status()
    vending = {True: "да", False: "нет (выдача товара может не поддерживаться)", None: "неизвестно"}
    lines = [f"терминал {'готов' if status.ready else 'не готов'}: {status.reason_ru}"]
    lines.append(f"  режим торгового автомата: {vending[status.vending_mode]}")
    _emit(args, asdict(status), lines)
    return 0 if status.ready else 1


def _register(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    registration = terminal.register()
    _emit(args, asdict(registration), [f"регистрация выполнена, терминал {registration.terminal_id}"])
    return 0


def _pay(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    assert amount is not None
    terminal.register()

    def show(text: str) -> None:
        print(f"[терминал] {text}", file=sys.stderr, flush=True)

    auth = terminal.authorise(amount, on_status=show)
    result: TransactionResult = terminal.confirm_goods(auth) if auth.approved else auth
    _emit(args, result.to_json(), _transaction_lines(result, "оплата"))
    return 0 if result.approved else 1


def _reverse(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    result = terminal.reverse(args.receipt)
    _emit(args, result.to_json(), _transaction_lines(result, "отмена"))
    return 0 if result.approved else 1


def _refund(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    assert amount is not None
    result = terminal.refund(amount)
    _emit(args, result.to_json(), _transaction_lines(result, "возврат"))
    return 0 if result.approved else 1


def _end_of_day(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    totals = terminal.end_of_day()
    data = asdict(totals) | {"amount": f"{totals.amount:.2f}"}
    data["groups"] = [{"card_type": g.card_type, "count": g.count, "amount": f"{g.amount:.2f}"} for g in totals.groups]
    human = [f"смена закрыта: {totals.count} операций на {totals.amount:.2f} руб."]
    human += [f"  {g.card_type}: {g.count} / {g.amount:.2f}" for g in totals.groups if g.count]
    _emit(args, data, human)
    return 0 if totals.ok else 1


def _diagnosis(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    result = terminal.diagnosis()
    _emit(args, asdict(result), [f"диагностика: {'в порядке' if result.ok else result.result_text}"])
    return 0 if result.ok else 1


def _repeat(terminal: PaymentTerminal, args: argparse.Namespace, amount: Decimal | None) -> int:
    result = terminal.repeat_receipt()
    _emit(args, result.to_json(), _transaction_lines(result, "последняя операция"))
    return 0


_ACTIONS: dict[str, Callable[[PaymentTerminal, argparse.Namespace, Decimal | None], int]] = {
    "status": _status,
    "register": _register,
    "pay": _pay,
    "reverse": _reverse,
    "refund": _refund,
    "end-of-day": _end_of_day,
    "diagnosis": _diagnosis,
    "repeat-receipt": _repeat,
}
