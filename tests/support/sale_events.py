"""Outbox events of realistic sales, for sync tests and the ingest benchmark.

Each sale yields what ``SaleService`` writes for a paid sale: payment.authorised, policy.registered
(with sealed personal data), print.printed, payment.committed, sale.completed — same kinds, same
payload keys, so the server projects them exactly as it would a real kiosk's.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from decimal import Decimal
from typing import Any

from kiosk import outbox
from kiosk.journal.db import Journal
from kiosk.privacy import PersonalDataCipher

SALE_KINDS = ("payment.authorised", "policy.registered", "print.printed", "payment.committed", "sale.completed")


def sale_events(
    kiosk_id: str, index: int, at: dt.datetime, *, kiosk_no: int | None = None, series: str = "ТТТ"
) -> list[dict[str, Any]]:
    """The five events of sale ``index`` (kind, sale_id, payload, personal, at), oldest first.

    Policy numbers are ``<kiosk_no:4><index:6>``: unique across kiosks with distinct ``kiosk_no``.
    """
    sale_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"osago-test:{kiosk_id}:{index}"))
    premium = Decimal(5000 + (index * 37) % 9000) + Decimal("0.17")
    number = f"{(zlib.crc32(kiosk_id.encode()) % 10000 if kiosk_no is None else kiosk_no):04d}{index:06d}"
    payment = {
        "attempt": 1,
        "amount": str(premium),
        "outcome": "approved",
        "result_code": "00",
        "receipt_no": f"{index % 10000:04d}",
        "trace": f"{index % 1000000:06d}",
        "masked_pan": "220220******1234",
        "auth_code": "A1B2C3",
        "terminal_id": "52500001",
        "card_type": "МИР",
    }
    start = (at + dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    policy = {
        "sale_id": sale_id,
        "series": series,
        "number": number,
        "premium": str(premium),
        "category": "B",
        "region": "77",
        "tariff_version": "7204-U",
        "period_start": start.isoformat(),
        "period_end": (start + dt.timedelta(days=365)).isoformat(),
    }
    personal = {
        "policyholder": {"last_name": "Тестов", "first_name": "Иван", "birth_date": "1985-04-02", "phone": "+79000000000"},
        "owner": {"last_name": "Тестов", "first_name": "Иван", "birth_date": "1985-04-02", "region_code": "77",
                  "locality": "Москва"},
        "vehicle": {"category": "B", "make": "Lada", "model": "Vesta", "year": 2020, "power_hp": "106",
                    "document_type": "СТС", "document_number": "7700123456", "plate": f"А{index % 1000:03d}ВС77",
                    "vin": f"XTA{index:014d}"},
        "drivers": None,
    }  # fmt: skip
    step = dt.timedelta(seconds=1)
    return [
        {"kind": "payment.authorised", "sale_id": sale_id, "payload": {**payment, "status": "approved"}, "at": at},
        {"kind": "policy.registered", "sale_id": sale_id, "payload": policy, "personal": personal, "at": at + step},
        {"kind": "print.printed", "sale_id": sale_id, "payload": {"kind": "policy", "job": f"{sale_id}:print:policy:1",
                                                                   "error": None}, "at": at + 2 * step},
        {"kind": "payment.committed", "sale_id": sale_id, "payload": {**payment, "status": "committed"},
         "at": at + 3 * step},
        {"kind": "sale.completed", "sale_id": sale_id, "at": at + 4 * step,
         "payload": {"amount": str(premium), "category": "B", "region": "77", "policy": f"{series} {number}",
                     "receipt_no": payment["receipt_no"], "trace": payment["trace"]}},
    ]  # fmt: skip


def envelopes(
    kiosk_id: str, sales: int, *, first: int = 0, at: dt.datetime | None = None, kiosk_no: int | None = None
) -> list[dict[str, Any]]:
    """Wire envelopes (``kiosk.outbox.envelope`` shape) of ``sales`` sales, oldest first."""
    moment = at or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    out = []
    for index in range(first, first + sales):
        for event in sale_events(kiosk_id, index, moment + dt.timedelta(seconds=10 * index), kiosk_no=kiosk_no):
            body = {
                "event_id": str(uuid.uuid4()),
                "kind": event["kind"],
                "kiosk_id": kiosk_id,
                "sale_id": event["sale_id"],
                "created_at": event["at"].isoformat(),
                "payload": {"sale_id": event["sale_id"], **event["payload"]},
            }
            if event.get("personal"):
                body["personal"] = event["personal"]
            out.append(body)
    return out


def emit_sales(journal: Journal, kiosk_id: str, sales: int, cipher: PersonalDataCipher) -> list[str]:
    """Write the events of ``sales`` sales into the kiosk's outbox; returns their event ids."""
    ids = []
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with journal.transaction() as session:
        for index in range(sales):
            for event in sale_events(kiosk_id, index, moment + dt.timedelta(seconds=10 * index)):
                row = outbox.emit(
                    session,
                    event["kind"],
                    {"sale_id": event["sale_id"], **event["payload"]},
                    at=event["at"],
                    sale_id=event["sale_id"],
                    personal=event.get("personal"),
                    cipher=cipher,
                )
                ids.append(row.event_id)
    return ids
