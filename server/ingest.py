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
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kiosk.money import AmountError, parse_amount
from server.db import Database, insert_ignore
from server.keys import Keyring, keyring_for
from server.models import Application, ApplicationKey, EndOfDay, Event, Kiosk, Payment, Policy, PolicyKey, Sale
from server.schemas import DeviceHealth, EventIn
from server.schemas import EndOfDay as EndOfDayPayload
from server.search import personal_digests

__all__ = ["IngestResult", "PayloadError", "ingest_events", "stored_events"]

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
    """An amount of an event (text by the one rule of ``kiosk.money``; zero allowed, e.g. a refund's rest)."""
    try:
        return parse_amount(value, name, allow_zero=True)
    except AmountError as exc:
        raise PayloadError(f"{name}: not an amount in roubles and kopecks ({exc.reason}): {value!r}") from None


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


_UPSERTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _upsert_by_rank(dialect: str, model: Any, columns: tuple[str, ...], keys: tuple[str, ...]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO UPDATE … WHERE stored.rank < new.rank`` (built once, run as executemany).

    A field the newer event leaves empty keeps what an older one said (``COALESCE``).
    """
    cache_key = (dialect, model.__tablename__, columns)
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        table = model.__table__
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        excluded = insert.excluded
        updates = {
            name: func.coalesce(excluded[name], table.c[name]) if table.c[name].nullable else excluded[name]
            for name in columns
            if name not in keys
        }
        stmt = _UPSERTS[cache_key] = insert.on_conflict_do_update(
            index_elements=list(keys), set_=updates, where=table.c.rank < excluded.rank
        )
    return stmt


def _best(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per key: the highest rank (the first of equals), as the database would end up."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key not in best or best[key]["rank"] < row["rank"]:
            best[key] = row
    return list(best.values())


class _Projector:
    """Turns new events into rows (checking every payload first), then writes them in a few bulk statements."""

    def __init__(self, session: Session, dialect: str, kiosk_id: str, now: dt.datetime) -> None:
        self.session = session
        self.dialect = dialect
        self.kiosk_id = kiosk_id
        self.now = now
        self.payments: list[dict[str, Any]] = []
        self.sales: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self.cancels: list[tuple[str, str]] = []
        self.applications: list[dict[str, Any]] = []
        self.closings: list[dict[str, Any]] = []
        self.health: tuple[dt.datetime, dict[str, Any]] | None = None

    def collect(self, event: EventIn) -> None:
        """Check one event's payload and queue what it changes (``PayloadError`` leaves nothing queued)."""
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    # -- payments and sales ------------------------------------------------------------------------
    def payment(self, event: EventIn) -> None:
        status = event.kind.removeprefix("payment.")
        p = event.payload
        if event.sale_id is None:
            raise PayloadError("a payment event needs sale_id")
        self.payments.append(
            {
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
        )

    def sale(self, event: EventIn, status: str) -> None:
        if event.sale_id is None:
            raise PayloadError("a sale event needs sale_id")
        p = event.payload
        amount = p.get("amount", p.get("premium"))
        self.sales.append(
            {
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
        )

    # -- policies -----------------------------------------------------------------------------------
    @staticmethod
    def _number(p: dict[str, Any]) -> tuple[str, str]:
        series, number = p.get("series"), p.get("number")
        if not isinstance(series, str) or not isinstance(number, str) or len(series) != 3 or len(number) != 10:
            raise PayloadError("a policy event needs series (3 letters) and number (10 digits)")
        return series, number

    def policy_registered(self, event: EventIn) -> None:
        # Registered elsewhere (the kiosk's own insurer link) or through this server: the row is made
        # only if the register does not have the number yet.
        p = event.payload
        series, number = self._number(p)
        personal = event.personal or {}
        self.policies.append(
            {
                "kiosk_id": self.kiosk_id,
                "sale_id": event.sale_id,
                "idempotency_key": None,
                "series": series,
                "number": number,
                "status": "active",
                "period_start": _datetime(p.get("period_start"), "period_start"),
                "period_end": _datetime(p.get("period_end"), "period_end"),
                "premium": _money(p.get("premium"), "premium"),
                "tariff_version": str(p.get("tariff_version") or "")[:32],
                "coefficients": dict(p.get("coefficients") or {}),
                "vehicle": dict(personal.get("vehicle") or {"category": p.get("category")}),
                "policyholder": personal.get("policyholder"),
                "owner": personal.get("owner"),
                "drivers": personal.get("drivers"),
                "extra": personal.get("extra"),
                "source": "event",
                "registered_at": event.created_at,
                "annulled_at": None,
                "annul_reason": None,
            }
        )

    def policy_cancel(self, event: EventIn) -> None:
        self.cancels.append(self._number(event.payload))

    # -- applications, end of day, health ------------------------------------------------------------
    def application(self, event: EventIn) -> None:
        p = event.payload
        number = p.get("number")
        if not isinstance(number, str) or not number or len(number) > 32:
            raise PayloadError("an application event needs its number")
        premium = _money(p["premium"], "premium") if p.get("premium") not in (None, "None") else None
        self.sale(event, "application")
        self.applications.append(
            {
                "number": number,
                "kiosk_id": self.kiosk_id,
                "sale_id": event.sale_id,
                "idempotency_key": None,
                "office": _text(p.get("office"), 500) or "",
                "status": "в обработке",
                "data": {"personal": event.personal} if event.personal else None,
                "premium": premium,
                "visit_by": _text(p.get("visit_by"), 10),
                "created_at": event.created_at,
                "updated_at": event.created_at,
                "status_by": None,
            }
        )

    def end_of_day(self, event: EventIn) -> None:
        try:
            eod = EndOfDayPayload.model_validate(event.payload)
        except ValidationError as exc:
            raise PayloadError(_first_error(exc)) from None
        receipts = list(eod.receipt_range or ())
        self.closings.append(
            {
                "event_id": event.event_id,
                "kiosk_id": self.kiosk_id,
                "at": eod.at,
                "count": eod.count,
                "amount": _money(eod.amount, "amount"),
                "groups": [g.model_dump() for g in eod.groups],
                "receipt_first": receipts[0] if receipts else None,
                "receipt_last": receipts[-1] if receipts else None,
                "terminal_id": eod.terminal_id,
            }
        )

    def health_report(self, event: EventIn) -> None:
        try:
            health = DeviceHealth.model_validate(event.payload)
        except ValidationError as exc:
            raise PayloadError(_first_error(exc)) from None
        if self.health is None or self.health[0] < event.created_at:
            self.health = (event.created_at, health.model_dump())

    # -- writing ----------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything queued: a handful of statements, whatever the batch size."""
        session, dialect = self.session, self.dialect
        if self.payments:
            rows = _best(self.payments, ("sale_id", "attempt"))
            session.execute(_upsert_by_rank(dialect, Payment, tuple(rows[0]), ("sale_id", "attempt")), rows)
        if self.sales:
            rows = _best(self.sales, ("sale_id",))
            session.execute(_upsert_by_rank(dialect, Sale, tuple(rows[0]), ("sale_id",)), rows)
        reason = "платёж отменён (по событию киоска)"
        keyring = keyring_for(session.get_bind().dialect)
        if self.policies:
            unique = list({(r["series"], r["number"]): r for r in self.policies}.values())
            inserted = session.execute(
                insert_ignore(dialect, Policy).returning(Policy.id, Policy.series, Policy.number), unique
            ).all()
            self._index_policies(keyring, unique, inserted)
            # An annulment that overtook its registration is applied now that the policy exists.
            sale_ids = [r["sale_id"] for r in unique if r["sale_id"]]
            cancelled = session.scalars(
                select(Event.sale_id).where(Event.sale_id.in_(sale_ids), Event.kind.in_(CANCEL_KINDS))
            ).all()
            if cancelled:
                session.execute(
                    update(Policy)
                    .where(Policy.sale_id.in_(cancelled), Policy.status == "active")
                    .values(status="annulled", annulled_at=self.now, annul_reason=reason)
                )
        if self.cancels:
            session.execute(
                update(Policy)
                .where(tuple_(Policy.series, Policy.number).in_(self.cancels), Policy.status == "active")
                .values(status="annulled", annulled_at=self.now, annul_reason=reason)
            )
        if self.applications:
            unique_apps = list({r["number"]: r for r in self.applications}.values())
            numbers = set(
                session.scalars(insert_ignore(dialect, Application).returning(Application.number), unique_apps).all()
            )
            keys = [
                {"number": r["number"], "field": field, "digest": digest}
                for r in unique_apps
                if r["number"] in numbers
                for field, digest in sorted(personal_digests(keyring, (r["data"] or {}).get("personal")))
            ]
            if keys:
                session.execute(insert_ignore(dialect, ApplicationKey), keys)
        if self.closings:
            session.execute(insert_ignore(dialect, EndOfDay), self.closings)
        if self.health is not None:
            at, report = self.health
            session.execute(
                update(Kiosk)
                .where(Kiosk.id == self.kiosk_id, (Kiosk.health_at.is_(None)) | (Kiosk.health_at < at))
                .values(health=report, health_at=at)
            )

    def _index_policies(self, keyring: Keyring, rows: list[dict[str, Any]], inserted: Sequence[Any]) -> None:
        """The blind-index digests of the policies this batch created (``server.search``)."""
        by_number = {(r["series"], r["number"]): r for r in rows}
        keys = []
        for policy_id, series, number in inserted:
            row = by_number[(series, number)]
            found = personal_digests(keyring, {k: row[k] for k in ("vehicle", "policyholder", "owner", "drivers")})
            keys += [{"policy_id": policy_id, "field": field, "digest": digest} for field, digest in sorted(found)]
        if keys:
            self.session.execute(insert_ignore(self.dialect, PolicyKey), keys)


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
    "device.health": _Projector.health_report,
}


_PG_STORE = text(
    "INSERT INTO events (event_id, kiosk_id, kind, sale_id, created_at, received_at, payload, personal) "
    "SELECT event_id, kiosk_id, kind, sale_id, created_at, received_at, CAST(payload AS json), personal "
    "FROM json_to_recordset(CAST(:rows AS json)) AS r(event_id varchar, kiosk_id varchar, kind varchar, "
    "sale_id varchar, created_at timestamptz, received_at timestamptz, payload text, personal text) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


def _store_new(session: Session, dialect: str, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows the table lacks; the ids of those inserted (the others were there already)."""
    if dialect != "postgresql":
        return set(session.scalars(insert_ignore(dialect, Event).returning(Event.event_id), rows).all())
    # On PostgreSQL the batch goes as one JSON parameter of one short statement: a multi-row VALUES
    # list is a new statement text for every batch, which the driver parses anew (a third of the
    # server's time per batch before this); the database unpacks JSON in C. Payloads travel as JSON
    # text inside it: unpacked as ``json`` they would be unescaped, and "\u0000" cannot be text. This
    # statement bypasses the ``Sealed`` column type, so the personal part is sealed here.
    keyring = keyring_for(session.get_bind().dialect)
    document = json.dumps(
        [
            {
                **row,
                "created_at": row["created_at"].isoformat(),
                "received_at": row["received_at"].isoformat(),
                "payload": json.dumps(row["payload"], ensure_ascii=False),
                "personal": None if row["personal"] is None else keyring.seal(row["personal"]),
            }
            for row in rows
        ],
        ensure_ascii=False,
    )
    return set(session.scalars(_PG_STORE, {"rows": document}).all())


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
        new_ids = _store_new(session, database.dialect, rows)
        projector = _Projector(session, database.dialect, kiosk_id, now)
        # Sale by sale, each in the order things happened at the kiosk: the bulk statements then take row
        # locks in the same order in every transaction, so concurrent batches never deadlock.
        for event in sorted((unique[i] for i in new_ids), key=lambda e: (e.sale_id or "", e.created_at)):
            try:
                projector.collect(event)
            except (PayloadError, KeyError, TypeError, ValueError) as exc:
                # Stored as sent (nothing is lost); the projection waits for a fixed kiosk or an operator.
                log.warning("event %s (%s) not projected: %s", event.event_id, event.kind, exc)
                result.problems.append((event.event_id, str(exc)[:300]))
        projector.flush()
    result.stored = len(new_ids)
    result.duplicates = len(events) - len(new_ids)
    result.acknowledged = list(unique)
    return result


def stored_events(db: Database, kiosk_id: str, since: dt.datetime | None, limit: int) -> list[Event]:
    """This kiosk's stored events created at or after ``since`` (every one without it), oldest first.

    A kiosk that restored its journal from a backup, or checks at start-up that its journal is not older
    than what it sent, compares these with its own outbox.
    """
    query = select(Event).where(Event.kiosk_id == kiosk_id)
    if since is not None:
        query = query.where(Event.created_at >= since)
    with db.session() as session:
        rows = session.scalars(query.order_by(Event.created_at, Event.event_id).limit(limit)).all()
        session.expunge_all()
        return list(rows)
