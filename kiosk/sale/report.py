"""Sales as rows without personal data: for ``osago-kiosk journal`` and the technician's screen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.journal.models import SaleRecord

__all__ = ["sale_row", "sale_rows"]


def sale_row(sale: SaleRecord) -> dict[str, Any]:
    """One sale: state, money, policy, the terminal's receipt data (masked PAN only)."""
    attempt = sale.payments[-1] if sale.payments else None
    policy = sale.policy
    return {
        "id": sale.id,
        "state": sale.state,
        "amount": None if sale.amount is None else str(sale.amount),
        "policy_number": f"{policy.series} {policy.number}" if policy else None,
        "policy_status": policy.status if policy else None,
        "terminal_receipt_no": attempt.receipt_no if attempt else None,
        "terminal_trace": attempt.trace if attempt else None,
        "payment_status": attempt.status if attempt else None,
        "masked_pan": attempt.masked_pan if attempt else None,
        "application_number": sale.application.number if sale.application else None,
        "category": sale.category,
        "region": sale.region_code,
        "tariff_version": sale.tariff_version,
        "created_at": sale.created_at.isoformat(),
        "finished_at": sale.finished_at.isoformat() if sale.finished_at else None,
        "flag_reason": sale.flag_reason,
    }


def sale_rows(session: Session, limit: int = 0, *, states: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Sales oldest first (the last ``limit`` of them when given), optionally only in ``states``."""
    query = select(SaleRecord).order_by(SaleRecord.created_at)
    if states:
        query = query.where(SaleRecord.state.in_(states))
    sales = session.scalars(query).all()
    if limit:
        sales = sales[-limit:]
    return [sale_row(sale) for sale in sales]
