"""Exactly-once ingest of kiosk outbox events, and what each kind of event changes on the server.

A batch is one transaction: ``INSERT … ON CONFLICT DO NOTHING RETURNING event_id`` stores the events
the server has not seen, and only those are projected (sales, payments, policies, end-of-day totals,
kiosk health). A duplicated batch, a batch resent after a lost answer, or events in another order
therefore change nothing twice. Projections are order-independent: a later state never gives way to
an earlier one (ranks), and an annulment that arrives before its registration is applied when the
registration comes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.db import Database, insert_ignore
from server.models import Application, EndOfDay, Event, Kiosk, Payment, Policy, Sale
from server.registry import annul
from server.schemas import DeviceHealth, EventIn
from server.schemas import EndOfDay as EndOfDayPayload

__all__ = ["IngestResult", "PayloadError", "ingest_events"]

log = logging.getLogger(__name__)

#: payment statuses by how final they are; a projection never moves a payment down
PAYMENT_RANK = {"authorised": 1, "declined": 2, "committed": 2, "reversed": 2}
#: sale outcomes by how final they are
SALE_RANK = {"abandoned": 1, "application": 2, "flagged": 2, "completed": 3}
CANCEL_KINDS = ("policy.cancel_requested", "policy.cancelled")


class PayloadError(ValueError):
    """An event's payload does not match its kind."""


@dataclass
class IngestResult:
    """What a batch did."""

    acknowledged: list[str] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def _money(value: object, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{name}: not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount >= 10**12:
        raise PayloadError(f"{name}: not an amount in roubles and kopecks: {value!r}")
    return amount


def _text(value: object, limit: int) -> str | None:
    # PostgreSQL text cannot hold NUL.
    return None if value is None else str(value).replace("\x00", "")[:limit]


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise PayloadError(f"{name}: not a whole number: {value!r}")
    return min(int(value), 2**31 - 1)


def _datetime(value: object, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise PayloadError(f"{name}: not an ISO time: {value!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{name}: time without a zone: {value!r}")
    return parsed


class _Projector:
    """Applies new events to the projection tables inside the batch's transaction."""

    def __init__(self, session: Session, dialect: str, kiosk_id: str, now: dt.datetime) -> None:
        self.session = session
        self.dialect = dialect
        self.kiosk_id = kiosk_id
        self.now = now

    def apply(self, event: EventIn) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    # -- payments and sales ------------------------------------------------------------------------
    def payment(self, event: EventIn) -> None:
        status = event.kind.removeprefix("payment.")
        p = event.payload
        if event.sale_id is None:
            raise PayloadError("a payment event needs sale_id")
        row = {
            "kiosk_id": self.kiosk_id,
            "sale_id": event.sale_id,
            "attempt": _int(p.get("attempt", 1), "attempt"),
            "status": status,
            "rank": PAYMENT_RANK[status],
            "amount": _money(p.get("amount"), "amount"),
            "receipt_no": _text(p.get("receipt_no"), 16),
            "trace": _text(p.get("trace"), 16),
            "masked_pan": _text(p.get("masked_pan"), 32),
            "auth_code": _text(p.get("auth_code"), 16),
            "terminal_id": _text(p.get("terminal_id"), 16),
            "card_type": _text(p.get("card_type"), 32),
            "at": event.created_at,
        }
        self.session.execute(insert_ignore(self.dialect, Payment).values(**row))
        self.session.execute(
            update(Payment)
            .where(Payment.sale_id == row["sale_id"], Payment.attempt == row["attempt"], Payment.rank < row["rank"])
            .values(**{k: v for k, v in row.items() if v is not None})
        )

    def sale(self, event: EventIn, status: str) -> None:
        if event.sale_id is None:
            raise PayloadError("a sale event needs sale_id")
        p = event.payload
        amount = p.get("amount", p.get("premium"))
        row = {
            "sale_id": event.sale_id,
            "kiosk_id": self.kiosk_id,
            "status": status,
            "rank": SALE_RANK[status],
            "amount": _money(amount, "amount") if amount not in (None, "None") else None,
            "category": _text(p.get("category"), 16),
            "region": _text(p.get("region"), 8),
            "policy": _text(p.get("policy"), 16),
            "finished_at": event.created_at,
        }
        self.session.execute(insert_ignore(self.dialect, Sale).values(**row))
        self.session.execute(update(Sale).where(Sale.sale_id == row["sale_id"], Sale.rank < row["rank"]).values(**row))

    # -- policies -----------------------------------------------------------------------------------
    def _policy(self, p: dict[str, Any]) -> Policy | None:
        series, number = p.get("series"), p.get("number")
        if not isinstance(series, str) or not isinstance(number, str):
            raise PayloadError("a policy event needs series and number")
        return self.session.scalars(select(Policy).where(Policy.series == series, Policy.number == number)).first()

    def policy_registered(self, event: EventIn) -> None:
        p = event.payload
        policy = self._policy(p)
        if policy is not None:
            policy.sale_id = policy.sale_id or event.sale_id
            return
        # Registered elsewhere (the kiosk's own insurer link): the outbox is how the server learns it.
        personal = event.personal or {}
        series, number = str(p["series"]), str(p["number"])
        if len(series) != 3 or len(number) != 10:
            raise PayloadError("policy series is 3 letters and number 10 digits")
        policy = Policy(
            kiosk_id=self.kiosk_id,
            sale_id=event.sale_id,
            idempotency_key=None,
            series=series,
            number=number,
            status="active",
            period_start=_datetime(p.get("period_start"), "period_start"),
            period_end=_datetime(p.get("period_end"), "period_end"),
            premium=_money(p.get("premium"), "premium"),
            tariff_version=str(p.get("tariff_version") or "")[:32],
            coefficients=dict(p.get("coefficients") or {}),
            vehicle=dict(personal.get("vehicle") or {"category": p.get("category")}),
            policyholder=personal.get("policyholder"),
            owner=personal.get("owner"),
            drivers=personal.get("drivers"),
            extra=personal.get("extra"),
            source="event",
            registered_at=event.created_at,
        )
        self.session.add(policy)
        self.session.flush()
        if event.sale_id is not None:
            cancelled = self.session.scalars(
                select(Event.event_id).where(Event.sale_id == event.sale_id, Event.kind.in_(CANCEL_KINDS)).limit(1)
            ).first()
            if cancelled is not None:
                annul(policy, "платёж отменён (по событию киоска)", self.now)

    def policy_cancel(self, event: EventIn) -> None:
        policy = self._policy(event.payload)
        if policy is not None:
            annul(policy, "платёж отменён (по событию киоска)", self.now)

    # -- applications, end of day, health ------------------------------------------------------------
    def application(self, event: EventIn) -> None:
        p = event.payload
        number = p.get("number")
        if not isinstance(number, str) or not number or len(number) > 32:
            raise PayloadError("an application event needs its number")
        premium = _money(p["premium"], "premium") if p.get("premium") not in (None, "None") else None
        self.sale(event, "application")
        self.session.execute(
            insert_ignore(self.dialect, Application).values(
                number=number,
                kiosk_id=self.kiosk_id,
                sale_id=event.sale_id,
                idempotency_key=None,
                office=_text(p.get("office"), 500) or "",
                status="в обработке",
                data={"personal": event.personal} if event.personal else None,
                premium=premium,
                visit_by=_text(p.get("visit_by"), 10),
                created_at=event.created_at,
                updated_at=event.created_at,
            )
        )

    def end_of_day(self, event: EventIn) -> None:
        try:
            eod = EndOfDayPayload.model_validate(event.payload)
        except ValidationError as exc:
            raise PayloadError(_first_error(exc)) from None
        receipts = list(eod.receipt_range or ())
        self.session.add(
            EndOfDay(
                event_id=event.event_id,
                kiosk_id=self.kiosk_id,
                at=eod.at,
                count=eod.count,
                amount=_money(eod.amount, "amount"),
                groups=[g.model_dump() for g in eod.groups],
                receipt_first=receipts[0] if receipts else None,
                receipt_last=receipts[-1] if receipts else None,
                terminal_id=eod.terminal_id,
            )
        )

    def health(self, event: EventIn) -> None:
        try:
            health = DeviceHealth.model_validate(event.payload)
        except ValidationError as exc:
            raise PayloadError(_first_error(exc)) from None
        self.session.execute(
            update(Kiosk)
            .where(
                Kiosk.id == self.kiosk_id,
                (Kiosk.health_at.is_(None)) | (Kiosk.health_at < event.created_at),
            )
            .values(health=health.model_dump(), health_at=event.created_at)
        )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


_HANDLERS: dict[str, Callable[[_Projector, EventIn], None]] = {
    "payment.authorised": _Projector.payment,
    "payment.declined": _Projector.payment,
    "payment.committed": _Projector.payment,
    "payment.reversed": _Projector.payment,
    "sale.completed": lambda self, event: self.sale(event, "completed"),
    "sale.abandoned": lambda self, event: self.sale(event, "abandoned"),
    "sale.flagged": lambda self, event: self.sale(event, "flagged"),
    "policy.registered": _Projector.policy_registered,
    "policy.cancel_requested": _Projector.policy_cancel,
    "policy.cancelled": _Projector.policy_cancel,
    "application.submitted": _Projector.application,
    "terminal.end_of_day": _Projector.end_of_day,
    "device.health": _Projector.health,
}


def ingest_events(database: Database, kiosk_id: str, events: Sequence[EventIn], now: dt.datetime) -> IngestResult:
    """Store the events the server has not seen and project them, in one transaction."""
    result = IngestResult()
    if not events:
        return result
    unique: dict[str, EventIn] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    rows = [
        {
            "event_id": e.event_id,
            "kiosk_id": kiosk_id,
            "kind": e.kind,
            "sale_id": e.sale_id,
            "created_at": e.created_at,
            "received_at": now,
            "payload": e.payload,
            "personal": e.personal,
        }
        # Sorted, so concurrent batches take row locks in the same order and never deadlock.
        for e in sorted(unique.values(), key=lambda e: e.event_id)
    ]
    with database.transaction() as session:
        new_ids = set(
            session.scalars(insert_ignore(database.dialect, Event).values(rows).returning(Event.event_id)).all()
        )
        projector = _Projector(session, database.dialect, kiosk_id, now)
        # Sale by sale (one lock order for every transaction), each sale in the order things happened;
        # kiosk-wide events (health) last.
        for event in sorted(
            (unique[i] for i in new_ids), key=lambda e: (e.sale_id is None, e.sale_id or "", e.created_at)
        ):
            # Every handler checks its payload before it writes, so a refused payload leaves nothing half done.
            try:
                projector.apply(event)
            except (PayloadError, KeyError, TypeError, ValueError) as exc:
                # Stored as sent (nothing is lost); the projection waits for a fixed kiosk or an operator.
                log.warning("event %s (%s) not projected: %s", event.event_id, event.kind, exc)
                result.problems.append((event.event_id, str(exc)[:300]))
    result.stored = len(new_ids)
    result.duplicates = len(events) - len(new_ids)
    result.acknowledged = list(unique)
    return result
