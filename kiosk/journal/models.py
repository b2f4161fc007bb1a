"""The journal's tables (SQLAlchemy 2, declarative). Alembic migrations create them.

Money is stored as exact decimal text and times as UTC ISO text, because SQLite has neither a decimal
nor a time-zone-aware type. Personal data lives only in ``personal_data.ciphertext`` (encrypted by the
caller) and is purged after the server has acknowledged the sale and the retention period has passed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApplicationRecord",
    "Base",
    "JournalEntry",
    "JournalIdentity",
    "Money",
    "OutboxEvent",
    "PaymentAttempt",
    "PersonalData",
    "PolicyRecord",
    "PrintJob",
    "ProcessedAction",
    "SaleEvent",
    "SaleRecord",
    "UtcDateTime",
]


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as text ("1234.56"), so no binary float ever touches an amount."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"money must be a finite Decimal, not {value!r}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"corrupted amount in the journal: {value!r}") from None


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC ISO text; naive datetimes are refused."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError("journal times must be time-zone aware")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromisoformat(value)


class Base(DeclarativeBase):
    """Declarative base of the journal."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class SaleRecord(Base):
    """One customer's purchase, from the first tap to the policy (or the letter) in hand."""

    __tablename__ = "sales"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # What the price depends on, without personal data (reports, renewals, reconciliation).
    category: Mapped[str | None] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(2))
    start_date: Mapped[str | None] = mapped_column(String(10))
    period_months: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    tariff_version: Mapped[str | None] = mapped_column(String(32))
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    consent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flag_reason: Mapped[str | None] = mapped_column(Text)

    personal: Mapped[PersonalData | None] = relationship(back_populates="sale", cascade="all, delete-orphan")
    events: Mapped[list[SaleEvent]] = relationship(back_populates="sale", order_by="SaleEvent.id")
    payments: Mapped[list[PaymentAttempt]] = relationship(back_populates="sale", order_by="PaymentAttempt.attempt")
    policy: Mapped[PolicyRecord | None] = relationship(back_populates="sale")
    print_jobs: Mapped[list[PrintJob]] = relationship(back_populates="sale", order_by="PrintJob.id")
    application: Mapped[ApplicationRecord | None] = relationship(back_populates="sale")


class PersonalData(Base):
    """The customer's personal data of a sale, encrypted; the ciphertext is dropped when purged."""

    __tablename__ = "personal_data"

    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    sale: Mapped[SaleRecord] = relationship(back_populates="personal")


class SaleEvent(Base):
    """One transition of a sale, in order; ``key`` makes a repeated action a no-op."""

    __tablename__ = "sale_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128), unique=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    sale: Mapped[SaleRecord] = relationship(back_populates="events")


class PaymentAttempt(Base):
    """One authorisation attempt on the terminal, with what the terminal reported (masked PAN only)."""

    __tablename__ = "payment_attempts"
    __table_args__ = (UniqueConstraint("sale_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    #: started → approved → committed | reversed; or declined; or unknown (ask the terminal)
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    outcome: Mapped[str | None] = mapped_column(String(32))
    result_code: Mapped[str | None] = mapped_column(String(4))
    result_text: Mapped[str | None] = mapped_column(Text)
    receipt_no: Mapped[str | None] = mapped_column(String(16))
    trace: Mapped[str | None] = mapped_column(String(16))
    masked_pan: Mapped[str | None] = mapped_column(String(32))
    auth_code: Mapped[str | None] = mapped_column(String(16))
    terminal_id: Mapped[str | None] = mapped_column(String(16))
    card_type: Mapped[str | None] = mapped_column(String(32))
    terminal_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    receipt_lines: Mapped[list[Any] | None] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    sale: Mapped[SaleRecord] = relationship(back_populates="payments")


class PolicyRecord(Base):
    """The policy the insurer registered for a sale (series and 10-digit number)."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("series", "number"),)

    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    series: Mapped[str] = mapped_column(String(3))
    number: Mapped[str] = mapped_column(String(10))
    #: registered → cancelled (a registered policy whose payment was reversed is annulled)
    status: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    sale: Mapped[SaleRecord] = relationship(back_populates="policy")


class PrintJob(Base):
    """One document sent (or about to be sent) to the printer."""

    __tablename__ = "print_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128), unique=True)
    #: started → printed | failed | spoiled (printed, but the policy on it was annulled)
    status: Mapped[str] = mapped_column(String(16))
    bytes_sent: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    sale: Mapped[SaleRecord | None] = relationship(back_populates="print_jobs")


class ApplicationRecord(Base):
    """An application taken while the insurer was unreachable: no money, an information letter."""

    __tablename__ = "applications"

    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    office: Mapped[str] = mapped_column(Text)
    visit_by: Mapped[str] = mapped_column(String(10))
    #: в обработке → исполнена | отклонена (updated by sync)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    sale: Mapped[SaleRecord] = relationship(back_populates="application")


class OutboxEvent(Base):
    """An event for the central server, written in the same transaction as the change it reports.

    ``payload`` holds no personal data; what the server needs of it (the policyholder for renewal
    reminders) is in ``sealed``, encrypted like ``personal_data`` and purged with it.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "acked_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    sale_id: Mapped[str | None] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedAction(Base):
    """Customer actions already handled (duplicate taps are dropped by id)."""

    __tablename__ = "processed_actions"

    action_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sale_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class JournalEntry(Base):
    """Technician and system actions outside a sale (diagnostics, end-of-day, recovery decisions)."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JournalIdentity(Base):
    """Which journal this is (one row): its id, the kiosk it belongs to, and a sequence number bumped in
    the same transaction as every change. ``kiosk.journal.sidecar`` keeps the same id and the last
    sequence apart from the file, so a journal that was replaced, truncated or rolled back is noticed."""

    __tablename__ = "journal_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    journal_id: Mapped[str] = mapped_column(String(36), unique=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: install (first start), init (a technician started a new journal), restore, adopt (an older journal
    #: that had no identity yet)
    origin: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
