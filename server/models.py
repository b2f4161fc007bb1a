"""The server's tables (SQLAlchemy 2, declarative), the same on SQLite and PostgreSQL. Alembic creates them.

Money is stored as whole kopecks (``BIGINT``) so sums are exact in SQL on both databases; times are
UTC (``timestamptz`` on PostgreSQL, naive UTC text on SQLite, aware UTC in Python either way).

Personal data (the parties and vehicle of a policy, an application's data, an event's ``personal``
part) and kiosk secrets are ``Sealed`` (``server.keys``): encrypted text in the database, plain values
in Python. What must be found by equality (phone, passport, licence, plate, VIN, body number) is in
``policy_keys`` / ``application_keys`` as blind-index digests.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from server.keys import Sealed

__all__ = [
    "Application",
    "ApplicationKey",
    "Base",
    "EndOfDay",
    "Event",
    "Kiosk",
    "Kopecks",
    "Nonce",
    "NumberRange",
    "OperatorAccount",
    "OperatorSession",
    "Payment",
    "Policy",
    "PolicyKey",
    "RateLimit",
    "RenewalQuote",
    "Sale",
    "ServerSecret",
    "UtcDateTime",
]

_KOPECK = Decimal("0.01")


class Kopecks(TypeDecorator[Decimal]):
    """A ``Decimal`` amount in roubles stored as an integer number of kopecks."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"money must be a finite Decimal, not {value!r}")
        if value.quantize(_KOPECK) != value:
            raise ValueError(f"amount {value} has fractions of a kopeck")
        return int(value * 100)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(int(value)) / 100).quantize(_KOPECK)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime kept in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError("server times must be time-zone aware")
        utc = value.astimezone(dt.UTC)
        # SQLite has no zones: store naive UTC so text comparison is time order.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the server schema."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Kiosk(Base):
    """A provisioned kiosk: its signing secret (sealed: HMAC needs the secret itself) and what it last reported."""

    __tablename__ = "kiosks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(Sealed)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: the latest device.health payload and when the kiosk measured it
    health: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    health_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Nonce(Base):
    """A nonce a kiosk used; kept until its timestamp leaves the window, so a replay is refused."""

    __tablename__ = "nonces"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class NumberRange(Base):
    """The next policy number of a series (issued under a row lock)."""

    __tablename__ = "number_ranges"

    series: Mapped[str] = mapped_column(String(3), primary_key=True)
    next_number: Mapped[int] = mapped_column(BigInteger)
    last_number: Mapped[int] = mapped_column(BigInteger)


class Policy(Base):
    """A registered policy: the contract terms, the parties (personal data), its status."""

    __tablename__ = "policies"
    __table_args__ = (
        UniqueConstraint("series", "number"),
        UniqueConstraint("kiosk_id", "idempotency_key"),
        Index("ix_policies_end", "status", "period_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    sale_id: Mapped[str | None] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    series: Mapped[str] = mapped_column(String(3))
    number: Mapped[str] = mapped_column(String(10))
    #: active → annulled
    status: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    premium: Mapped[Decimal] = mapped_column(Kopecks)
    tariff_version: Mapped[str] = mapped_column(String(32))
    coefficients: Mapped[dict[str, Any]] = mapped_column(JSON)
    vehicle: Mapped[dict[str, Any]] = mapped_column(Sealed)
    policyholder: Mapped[dict[str, Any] | None] = mapped_column(Sealed)
    owner: Mapped[dict[str, Any] | None] = mapped_column(Sealed)
    drivers: Mapped[list[Any] | None] = mapped_column(Sealed)
    extra: Mapped[dict[str, Any] | None] = mapped_column(Sealed)
    #: "api" (registered through the server) or "event" (known from the kiosk's outbox only)
    source: Mapped[str] = mapped_column(String(8))
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    annulled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    annul_reason: Mapped[str | None] = mapped_column(Text)


class Application(Base):
    """An application filed at a kiosk: в обработке → исполнена | отклонена (set by an operator)."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("kiosk_id", "idempotency_key"),)

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    sale_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    office: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any] | None] = mapped_column(Sealed)
    premium: Mapped[Decimal | None] = mapped_column(Kopecks)
    visit_by: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    status_by: Mapped[str | None] = mapped_column(String(64))


class Event(Base):
    """One kiosk outbox event, stored exactly once by its id."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_kiosk_kind", "kiosk_id", "kind", "created_at"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    sale_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: what the kiosk sent, as it sent it (by contract, no personal data)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    personal: Mapped[dict[str, Any] | None] = mapped_column(Sealed)


class Sale(Base):
    """A kiosk sale as its events tell it (the latest state wins, whatever order events arrive in)."""

    __tablename__ = "sales"
    __table_args__ = (Index("ix_sales_kiosk_day", "kiosk_id", "finished_at"),)

    sale_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    #: completed | abandoned | flagged | application
    status: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Kopecks)
    category: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(8))
    policy: Mapped[str | None] = mapped_column(String(16))
    finished_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Payment(Base):
    """One card payment attempt with what the terminal reported (masked PAN only)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("sale_id", "attempt"), Index("ix_payments_kiosk_at", "kiosk_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    sale_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    #: authorised → committed | reversed; declined
    status: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Kopecks)
    receipt_no: Mapped[str | None] = mapped_column(String(16))
    trace: Mapped[str | None] = mapped_column(String(16))
    masked_pan: Mapped[str | None] = mapped_column(String(32))
    auth_code: Mapped[str | None] = mapped_column(String(16))
    terminal_id: Mapped[str | None] = mapped_column(String(16))
    card_type: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class EndOfDay(Base):
    """A terminal's end-of-day (batch close) totals, reported by the kiosk."""

    __tablename__ = "end_of_day"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Kopecks)
    groups: Mapped[list[Any] | None] = mapped_column(JSON)
    receipt_first: Mapped[str | None] = mapped_column(String(16))
    receipt_last: Mapped[str | None] = mapped_column(String(16))
    terminal_id: Mapped[str | None] = mapped_column(String(16))


class RenewalQuote(Base):
    """The premium of a policy's renewal, priced with the tariffs in force, ready for a reminder."""

    __tablename__ = "renewal_quotes"
    __table_args__ = (UniqueConstraint("policy_id", "start_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    start_date: Mapped[str] = mapped_column(String(10))
    premium: Mapped[Decimal | None] = mapped_column(Kopecks)
    tariff_version: Mapped[str | None] = mapped_column(String(32))
    coefficients: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    priced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class OperatorAccount(Base):
    """A dashboard operator added with ``osago-server operator add`` (scrypt hash, never the password)."""

    __tablename__ = "operators"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class OperatorSession(Base):
    """A logged-in operator; the cookie holds the token, the table only its hash."""

    __tablename__ = "operator_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class PolicyKey(Base):
    """A blind-index digest of one searchable value of a policy (``server.search``)."""

    __tablename__ = "policy_keys"
    __table_args__ = (Index("ix_policy_keys_digest", "field", "digest"),)

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True)
    #: phone | passport | licence | plate | vin | body_number
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(32), primary_key=True)


class ApplicationKey(Base):
    """A blind-index digest of one searchable value of an application."""

    __tablename__ = "application_keys"
    __table_args__ = (Index("ix_application_keys_digest", "field", "digest"),)

    number: Mapped[str] = mapped_column(ForeignKey("applications.number", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(32), primary_key=True)


class ServerSecret(Base):
    """A secret of this database (the blind-index key), sealed with the key file's keys."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: ``<key id>:<Fernet token>`` (``Keyring.seal_bytes``)
    value: Mapped[str] = mapped_column(Text)


class RateLimit(Base):
    """A ``limits`` fixed-window counter (``server.throttle.SqlStorage``)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    #: Unix seconds when the window ends
    expires_at: Mapped[float] = mapped_column(Double, index=True)
