"""The insurer gateway: what the kiosk asks of the insurer (and, through it, of RSA AIS).

The in-process simulator (``kiosk.insurer.simulator``) implements it for a kiosk without a server; the
central server's HTTP adapter implements it in production. Every call that changes something carries
an idempotency key, so a call repeated after a crash returns the first answer instead of acting twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

__all__ = [
    "ApplicationReceipt",
    "GatewayError",
    "GatewayRejectedError",
    "GatewayUnavailableError",
    "InsurerGateway",
    "KbmAnswer",
    "KbmQuery",
    "PolicyContract",
    "RegisteredPolicy",
]


class GatewayError(IOError):
    """The insurer could not do what was asked."""


class GatewayUnavailableError(GatewayError):
    """The insurer (or RSA AIS behind it) cannot be reached now; trying later may work."""


class GatewayRejectedError(GatewayError):
    """The insurer refused the request (data mismatch, stop list); trying again will not help."""


@dataclass(frozen=True, slots=True)
class KbmQuery:
    """One person whose КБМ class the insurance database knows by licence (driver) or passport (owner)."""

    document: str
    last_name: str
    birth_date: dt.date


@dataclass(frozen=True, slots=True)
class KbmAnswer:
    """The class АИС ОСАГО holds for the person on the contract date (start class if none)."""

    kbm_class: str
    request_id: str
    found: bool


@dataclass(frozen=True, slots=True)
class PolicyContract:
    """Everything the insurer registers: the contract terms and the (personal) parties' data."""

    sale_id: str
    kiosk_id: str
    period_start: dt.datetime
    period_end: dt.datetime
    premium: Decimal
    tariff_version: str
    coefficients: dict[str, str]
    vehicle: dict[str, Any]
    policyholder: dict[str, Any]
    owner: dict[str, Any]
    drivers: Sequence[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegisteredPolicy:
    """The policy number the insurer issued."""

    series: str
    number: str
    registered_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ApplicationReceipt:
    """An application accepted by the insurer: number and status ("в обработке" at first)."""

    number: str
    status: str
    office: str


class InsurerGateway(Protocol):
    """The insurer as the sale sees it."""

    def available(self) -> bool:
        """Whether registration is possible right now (the sale's preflight, before any money)."""
        ...

    def kbm_lookup(self, queries: Sequence[KbmQuery], on: dt.date) -> list[KbmAnswer]:
        """КБМ classes of the drivers (or the owner), in the order asked."""
        ...

    def register_policy(self, contract: PolicyContract, *, idempotency_key: str) -> RegisteredPolicy:
        """Register the contract and issue its series and number."""
        ...

    def find_policy(self, idempotency_key: str) -> RegisteredPolicy | None:
        """The policy a registration with this key issued, if any (recovery after a crash; never registers)."""
        ...

    def cancel_policy(self, series: str, number: str, *, reason: str, idempotency_key: str) -> None:
        """Annul a registered policy whose payment did not go through."""
        ...

    def submit_application(
        self, sale_id: str, data: dict[str, Any], *, office: str, idempotency_key: str
    ) -> ApplicationReceipt:
        """File an application to be completed at the insurer's office."""
        ...
