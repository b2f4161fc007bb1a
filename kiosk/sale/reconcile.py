"""Reconciling a restored (or newly started) journal before the kiosk sells again.

A backup lacks whatever happened after it was made. Two witnesses remember some of it:

- the central server holds every outbox event the kiosk delivered: the ones the journal does not
  have are added to its outbox (as already acknowledged, so sync never sends them twice) and the
  sales they tell of are brought back in the state they ended in — a completed sale stays completed
  (never charged again), a sale whose end the server does not know is flagged with what is known
  about its money;
- the terminal remembers its last transaction (Repeat Receipt): a committed payment whose trace no
  sale of the journal has is flagged for the technician with its amount, receipt and card.

A sale that reached neither (sold after the backup, never synced, and not the terminal's last
transaction) is found only in the terminal's end-of-day totals; the README says how to check them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivers.payment import Fate, TransactionResult
from kiosk import outbox
from kiosk.journal.guard import JournalRefusedError, Refusal, ServerEvents, StoredEvent
from kiosk.journal.models import (
    ApplicationRecord,
    JournalEntry,
    OutboxEvent,
    PaymentAttempt,
    PolicyRecord,
    SaleEvent,
    SaleRecord,
)
from kiosk.money import rub
from kiosk.sale.service import SaleService, same_transaction
from kiosk.sale.states import FINAL, SaleState

__all__ = ["Reconciled", "reconcile_journal", "server_state"]

log = logging.getLogger("kiosk.journal")
S = SaleState
PAGE = 500


@dataclass
class Reconciled:
    """What the reconciliation did."""

    events_imported: int = 0
    sales_restored: dict[str, str] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    terminal: str = ""
    server: str = ""


def _refuse(reason: str, detail: str) -> JournalRefusedError:
    return JournalRefusedError(
        Refusal.UNRECONCILED,
        f"Журнал восстановлен и ещё не сверен: {reason}",
        f"restored journal not reconciled yet: {detail}",
    )


def server_state(kinds: Sequence[tuple[str, dict[str, Any]]]) -> SaleState | None:
    """The state a sale ended in, as its events tell it (None: they tell of no sale)."""
    names = {kind for kind, _ in kinds}
    for kind, payload in kinds:
        if kind == "sale.resolved" and payload.get("resolution") in ("completed", "reversed", "abandoned"):
            return S(str(payload["resolution"]))
    if "sale.completed" in names:
        return S.COMPLETED
    if "payment.reversed" in names:
        return S.REVERSED
    if "application.submitted" in names:
        return S.APPLICATION_ISSUED
    if "sale.flagged" in names or "payment.authorised" in names or "policy.registered" in names:
        return S.FLAGGED
    if "sale.abandoned" in names or "payment.declined" in names:
        return S.ABANDONED
    return None


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "", "None") else None
    except InvalidOperation:
        return None


def _fetch_missing(service: SaleService, fetch: ServerEvents) -> list[StoredEvent]:
    """Every event of this kiosk the server holds that the journal's outbox lacks (after its last acked one)."""
    with service.journal.session() as session:
        since = session.scalar(select(func.max(OutboxEvent.created_at)).where(OutboxEvent.acked_at.is_not(None)))
    missing: dict[str, StoredEvent] = {}
    seen: set[str] = set()
    while True:
        page = fetch(since, PAGE)
        if page is None:
            raise _refuse("центральный сервер не ответил", "the central server did not answer")
        fresh = [e for e in page if e.event_id not in seen]
        seen.update(e.event_id for e in page)
        ids = [e.event_id for e in fresh]
        with service.journal.session() as session:
            known = set(session.scalars(select(OutboxEvent.event_id).where(OutboxEvent.event_id.in_(ids))).all())
        missing.update((e.event_id, e) for e in fresh if e.event_id not in known)
        if len(page) < PAGE or not fresh:
            break
        since = page[-1].created_at
    return sorted(missing.values(), key=lambda e: (e.created_at, e.event_id))


def _import(service: SaleService, events: list[StoredEvent], report: Reconciled) -> None:
    """Add the server's events to the outbox (acknowledged) and bring back the sales they tell of."""
    now = service.clock()
    by_sale: dict[str, list[StoredEvent]] = defaultdict(list)
    with service._tx() as session:
        for event in events:
            session.add(
                OutboxEvent(
                    event_id=event.event_id,
                    sale_id=event.sale_id,
                    kind=event.kind,
                    payload=event.payload,
                    created_at=event.created_at,
                    acked_at=now,
                    attempts=0,
                    last_error="restored from the central server",
                )
            )
            if event.sale_id:
                by_sale[event.sale_id].append(event)
        report.events_imported = len(events)
        for sale_id, sale_events in by_sale.items():
            state = _restore_sale(service, session, sale_id, sale_events)
            if state is not None:
                report.sales_restored[sale_id] = state.value
                if state is S.FLAGGED:
                    report.flagged.append(sale_id)


def _restore_sale(service: SaleService, session: Session, sale_id: str, events: list[StoredEvent]) -> SaleState | None:
    sale = session.get(SaleRecord, sale_id)
    ids = [e.event_id for e in events]
    older = (
        session.scalars(
            select(OutboxEvent).where(OutboxEvent.sale_id == sale_id, OutboxEvent.event_id.not_in(ids))
        ).all()
        if sale
        else []
    )
    told = [(e.kind, dict(e.payload)) for e in older] + [(e.kind, e.payload) for e in events]
    state = server_state(told)
    if state is None or (sale is not None and (S(sale.state) in FINAL or S(sale.state) is S.FLAGGED)):
        return None
    payloads: dict[str, dict[str, Any]] = {}
    for kind, payload in told:
        payloads[kind] = {**payloads.get(kind, {}), **payload}
    payment = payloads.get("payment.committed") or payloads.get("payment.reversed") or payloads.get(
        "payment.authorised"
    ) or payloads.get("payment.declined") or {}  # fmt: skip
    first, last = events[0].created_at, events[-1].created_at
    summary = payloads.get("sale.completed", {})
    amount = _money(
        summary.get("amount") or payment.get("amount") or payloads.get("policy.registered", {}).get("premium")
    )
    if sale is None:
        sale = SaleRecord(id=sale_id, kiosk_id=service.config.kiosk_id, state=state.value, created_at=first,
                          updated_at=last)  # fmt: skip
        session.add(sale)
    before = sale.state if sale.state != state.value else None
    sale.state = state.value
    sale.updated_at = last
    sale.finished_at = last if state in FINAL else None
    sale.amount = sale.amount or amount
    policy_payload = payloads.get("policy.registered", {})
    for attr, key in (("category", "category"), ("region_code", "region"), ("tariff_version", "tariff_version"),
                      ("start_date", "start_date"), ("period_months", "period_months")):  # fmt: skip
        value = summary.get(key) or policy_payload.get(key)
        if value is not None and getattr(sale, attr) is None:
            setattr(sale, attr, value)
    if payment:
        _restore_payment(session, sale, payment, first)
    if policy_payload and sale.policy is None and policy_payload.get("series") and policy_payload.get("number"):
        status = "cancelled" if "policy.cancelled" in payloads else (
            "cancelling" if "policy.cancel_requested" in payloads else "registered"
        )  # fmt: skip
        session.add(
            PolicyRecord(
                sale_id=sale_id,
                key=f"{sale_id}:register",
                series=str(policy_payload["series"]),
                number=str(policy_payload["number"]),
                status=status,
                period_start=dt.datetime.fromisoformat(str(policy_payload.get("period_start") or first.isoformat())),
                period_end=dt.datetime.fromisoformat(str(policy_payload.get("period_end") or last.isoformat())),
                registered_at=first,
            )
        )
    application = payloads.get("application.submitted")
    if application and sale.application is None and application.get("number"):
        session.add(
            ApplicationRecord(
                sale_id=sale_id,
                number=str(application["number"]),
                office=str(application.get("office") or ""),
                visit_by=str(application.get("visit_by") or ""),
                status="в обработке",
                created_at=first,
            )
        )
    if state is S.FLAGGED:
        sale.flag_reason = _flag_reason(payloads, payment, amount)
    session.add(
        SaleEvent(
            sale_id=sale_id, at=service.clock(), from_state=before, to_state=state.value,
            key=f"{sale_id}:restored:{uuid.uuid4()}", detail={"from": "central server", "events": len(events)},
        )
    )  # fmt: skip
    return state


def _restore_payment(session: Session, sale: SaleRecord, payment: dict[str, Any], at: dt.datetime) -> None:
    attempt_no = int(payment.get("attempt") or 1)
    attempt = next((a for a in sale.payments if a.attempt == attempt_no), None)
    if attempt is None:
        attempt = PaymentAttempt(
            sale_id=sale.id, attempt=attempt_no, key=f"{sale.id}:pay:{attempt_no}", status="started",
            amount=_money(payment.get("amount")) or Decimal(0), started_at=at,
        )  # fmt: skip
        session.add(attempt)
    status = str(payment.get("status") or "unknown")
    attempt.status = status if status in ("committed", "reversed", "declined") else "unknown"
    for name in (
        "outcome",
        "result_code",
        "receipt_no",
        "trace",
        "masked_pan",
        "auth_code",
        "terminal_id",
        "card_type",
    ):
        if payment.get(name) and getattr(attempt, name) is None:
            setattr(attempt, name, str(payment[name]))
    attempt.finished_at = attempt.finished_at or at


def _flag_reason(payloads: dict[str, dict[str, Any]], payment: dict[str, Any], amount: Decimal | None) -> str:
    given = payloads.get("sale.flagged", {}).get("reason")
    receipt = payment.get("receipt_no") or "—"
    money = f"{rub(amount)}" if amount is not None else "сумма неизвестна"
    if given:
        return f"Восстановлено с сервера: {given} ({money}, чек {receipt})"
    policy = payloads.get("policy.registered", {})
    issued = f", полис {policy.get('series')} {policy.get('number')} зарегистрирован" if policy.get("number") else ""
    return (
        f"Восстановлено с сервера: оплата {money} одобрена терминалом (чек {receipt}){issued}, "
        "но исход оплаты неизвестен — сверьте с итогами терминала"
    )


def _check_terminal(service: SaleService, report: Reconciled) -> None:
    """The terminal's last transaction: a committed payment no sale of the journal accounts for is flagged."""
    last: TransactionResult | None = None
    for _ in range(max(1, service.config.settle_attempts)):
        try:
            last = service.terminal.repeat_receipt()
            break
        except Exception as exc:  # the terminal may still be starting
            log.warning("terminal did not answer the repeat receipt during reconciliation: %s", exc)
            service._sleep(service.config.settle_pause)
    if last is None:
        raise _refuse("терминал оплаты не ответил", "the terminal did not answer the repeat receipt")
    trace = last.original_trace or last.trace
    if trace is None:
        report.terminal = "no transaction"
        return
    if last.fate is Fate.PENDING:
        last = service._settle(last, trace)
    with service.journal.session() as session:
        traces = set(session.scalars(select(PaymentAttempt.trace).where(PaymentAttempt.trace.is_not(None))).all())
    if trace in traces or any(same_transaction(last, t) for t in traces if t):
        report.terminal = f"last transaction {trace} is in the journal"
        return
    if last.fate is not Fate.COMMITTED:
        report.terminal = f"last transaction {trace} unknown to the journal, {last.fate.value}: no money taken"
        return
    sale_id = str(uuid.uuid4())
    now = service.clock()
    reason = (
        f"Терминал провёл платёж {rub(last.amount) if last.amount is not None else '(сумма неизвестна)'} "
        f"(чек {last.receipt_no or '—'}, карта {last.masked_pan or '—'}), которого нет в восстановленном журнале: "
        "деньги списаны; выдан ли полис — проверьте у страховщика"
    )
    with service._tx() as session:
        sale = SaleRecord(id=sale_id, kiosk_id=service.config.kiosk_id, state=S.FLAGGED.value, created_at=now,
                          updated_at=now, amount=last.amount, flag_reason=reason)  # fmt: skip
        session.add(sale)
        session.add(
            PaymentAttempt(
                sale_id=sale_id, attempt=1, key=f"{sale_id}:pay:1", status="unknown", amount=last.amount or Decimal(0),
                outcome=last.outcome.value, receipt_no=last.receipt_no, trace=trace, masked_pan=last.masked_pan,
                auth_code=last.auth_code, terminal_id=last.terminal_id, card_type=last.card_type, started_at=now,
            )
        )  # fmt: skip
        session.add(
            SaleEvent(
                sale_id=sale_id, at=now, from_state=None, to_state=S.FLAGGED.value,
                key=f"{sale_id}:restored:terminal", detail={"from": "terminal", "trace": trace},
            )
        )  # fmt: skip
        outbox.emit(session, "sale.flagged", {"sale_id": sale_id, "reason": reason, "amount": str(last.amount)},
                    at=now, sale_id=sale_id)  # fmt: skip
    report.flagged.append(sale_id)
    report.terminal = f"committed payment {trace} unknown to the journal: flagged as sale {sale_id[:8]}"
    log.error("sale %s flagged for the technician: %s", sale_id, reason)


def reconcile_journal(service: SaleService, fetch: ServerEvents | None, *, server_configured: bool) -> Reconciled:
    """Reconcile a restored journal with the server and the terminal, then let the kiosk sell on it.

    ``JournalRefusedError`` (unreconciled) when a witness that should answer does not: the kiosk tries
    again at its next start.
    """
    report = Reconciled()
    with service._busy:
        if server_configured:
            if fetch is None:
                raise _refuse("центральный сервер недоступен", "the central server is not usable")
            _import(service, _fetch_missing(service, fetch), report)
            report.server = f"{report.events_imported} events restored from the central server"
        else:
            report.server = "no central server configured"
        _check_terminal(service, report)
        with service._tx() as session:
            session.add(
                JournalEntry(
                    at=service.clock(), actor="system", action="journal_reconciled", detail=dataclasses.asdict(report)
                )
            )
        sidecar = service.journal.sidecar
        if sidecar is not None:
            sidecar.update(lambda r: dataclasses.replace(r, state="ok"))
    log.warning("restored journal reconciled: %s; %s; sales brought back %s, flagged %s", report.server,
                report.terminal, report.sales_restored or "none", report.flagged or "none")  # fmt: skip
    return report
