"""Purging personal data: a finished sale keeps it only until the server has acknowledged every event
of the sale and the retention period has passed (152-ФЗ: no longer than the purpose requires).

What remains is what reports and reconciliation need and holds no personal data: amounts, category,
region, policy number, terminal receipt data (masked PAN only).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update

from kiosk.journal.db import Journal
from kiosk.journal.models import OutboxEvent, PersonalData, SaleRecord
from kiosk.sale.states import FINAL

__all__ = ["purge_personal_data"]

log = logging.getLogger(__name__)


def purge_personal_data(journal: Journal, *, now: dt.datetime, retention_days: int) -> int:
    """Drop the personal data of sales past retention whose events the server acknowledged; returns how many."""
    cutoff = now - dt.timedelta(days=retention_days)
    purged = 0
    with journal.transaction() as session:
        candidates = session.scalars(
            select(SaleRecord.id)
            .join(PersonalData, PersonalData.sale_id == SaleRecord.id)
            .where(
                SaleRecord.state.in_([state.value for state in FINAL]),
                SaleRecord.finished_at <= cutoff,
                PersonalData.ciphertext.is_not(None),
            )
        ).all()
        for sale_id in candidates:
            unacknowledged = session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.sale_id == sale_id, OutboxEvent.acked_at.is_(None)).limit(1)
            ).first()
            if unacknowledged is not None:
                continue
            session.execute(
                update(PersonalData).where(PersonalData.sale_id == sale_id).values(ciphertext=None, purged_at=now)
            )
            session.execute(update(OutboxEvent).where(OutboxEvent.sale_id == sale_id).values(sealed=None))
            purged += 1
    if purged:
        log.info("purged personal data of %d sales", purged)
    return purged
