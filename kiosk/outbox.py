"""The outbox: events for the central server, written in the same transaction as the change.

Sync (``kiosk.sync``) reads pending events oldest first, sends them with their ``event_id`` as the
idempotency key, and marks them acknowledged only when the server says so; a crash between send and
acknowledgement resends, and the server drops the duplicate.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kiosk.journal.models import OutboxEvent
from kiosk.privacy import PersonalDataCipher

__all__ = ["emit", "envelope", "mark_acked", "mark_failed", "pending", "pending_count"]


def emit(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    at: dt.datetime,
    sale_id: str | None = None,
    personal: dict[str, Any] | None = None,
    cipher: PersonalDataCipher | None = None,
) -> OutboxEvent:
    """Add an event to the outbox of the caller's transaction; ``personal`` data is sealed."""
    if personal is not None and cipher is None:
        raise ValueError("personal data in the outbox must be sealed with the cipher")
    event = OutboxEvent(
        event_id=str(uuid.uuid4()),
        sale_id=sale_id,
        kind=kind,
        payload=payload,
        sealed=cipher.encrypt(personal) if personal is not None and cipher is not None else None,
        created_at=at,
        attempts=0,
    )
    session.add(event)
    return event


def pending(session: Session, limit: int = 100) -> Sequence[OutboxEvent]:
    """Unacknowledged events, oldest first."""
    query = select(OutboxEvent).where(OutboxEvent.acked_at.is_(None)).order_by(OutboxEvent.id).limit(limit)
    return session.scalars(query).all()


def pending_count(session: Session) -> int:
    """How many events wait for the server."""
    return len(session.scalars(select(OutboxEvent.id).where(OutboxEvent.acked_at.is_(None))).all())


def mark_acked(session: Session, event_ids: Sequence[str], at: dt.datetime) -> None:
    """Record the server's acknowledgement of these events."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_id.in_(list(event_ids)), OutboxEvent.acked_at.is_(None))
        .values(acked_at=at)
    )


def mark_failed(session: Session, event_ids: Sequence[str], error: str) -> None:
    """Count a failed delivery attempt (the events stay pending)."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_id.in_(list(event_ids)))
        .values(attempts=OutboxEvent.attempts + 1, last_error=error[:500])
    )


def envelope(event: OutboxEvent, kiosk_id: str, cipher: PersonalDataCipher | None) -> dict[str, Any]:
    """The event as sent to the server (sealed personal data opened for the TLS channel only)."""
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "kind": event.kind,
        "kiosk_id": kiosk_id,
        "sale_id": event.sale_id,
        "created_at": event.created_at.isoformat(),
        "payload": event.payload,
    }
    if event.sealed is not None and cipher is not None:
        body["personal"] = cipher.decrypt(event.sealed)
    return body
