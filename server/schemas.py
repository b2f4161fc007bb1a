"""The wire shapes of the kiosk API (pydantic): what the OpenAPI document publishes and what requests must match.

Every string has a length limit no larger than its column, so no input can make the database fail.
Money travels as text (``"1234.56"``), never as a JSON number. Text that cannot be UTF-8 (a lone
surrogate such as ``"\\ud800"``, which JSON can spell) is refused anywhere in a request, nested
payloads included: neither database can store it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from kiosk.money import AMOUNT_PATTERN

__all__ = [
    "APPLICATION_STATUSES",
    "ApplicationIn",
    "ApplicationOut",
    "ApplicationStatus",
    "CancelIn",
    "DeviceHealth",
    "EndOfDay",
    "EventBatch",
    "EventIn",
    "IngestAnswer",
    "KbmAnswerOut",
    "KbmIn",
    "KbmOut",
    "PolicyIn",
    "PolicyOut",
    "StatusOut",
    "refuse_invalid_text",
]

# The one amount grammar (kiosk.money): ASCII digits only; pydantic's ``\d`` would take any Unicode digit.
Money = Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN, max_length=13)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]*$")]
IdempotencyKey = Annotated[str, StringConstraints(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9:._-]+$")]
# PostgreSQL text cannot hold NUL: refuse it at the door rather than fail in the database.
Short = Annotated[str, StringConstraints(max_length=32, pattern=r"^[^\x00]*$")]
Text = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]
Series = Annotated[str, StringConstraints(pattern=r"^[А-ЯЁ]{3}$")]
Number = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]

#: the statuses an application goes through (set by an operator after "в обработке")
APPLICATION_STATUSES = ("в обработке", "исполнена", "отклонена")
ApplicationStatus = Literal["в обработке", "исполнена", "отклонена"]


def refuse_invalid_text(value: object) -> None:
    """``ValueError`` when any string in ``value`` (keys and nested values too) is not valid Unicode text."""
    # A stack, not recursion: the body limit bounds the size, not the depth.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("text holds a character that is not valid Unicode (a lone surrogate)") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        refuse_invalid_text(data)
        return data


class PolicyIn(_In):
    """A contract to register (``kiosk.insurer.PolicyContract`` on the wire)."""

    sale_id: Id
    period_start: AwareDatetime
    period_end: AwareDatetime
    premium: Money
    tariff_version: Short
    coefficients: dict[Short, Short] = Field(max_length=20)
    vehicle: dict[str, Any]
    policyholder: dict[str, Any]
    owner: dict[str, Any]
    drivers: list[dict[str, Any]] | None = Field(default=None, max_length=10)
    extra: dict[str, Any] = Field(default_factory=dict)


class PolicyOut(BaseModel):
    """A registered policy's number (the same answer for a repeated Idempotency-Key)."""

    series: str
    number: str
    status: str
    registered_at: dt.datetime
    period_start: dt.datetime
    period_end: dt.datetime


class CancelIn(_In):
    """Annul a policy whose payment did not go through."""

    series: Series
    number: Number
    reason: Text = ""


class KbmPerson(_In):
    """One person to look up: licence (driver) or passport (owner) without spaces."""

    document: Annotated[str, StringConstraints(min_length=4, max_length=20, pattern=r"^[0-9A-Za-zА-ЯЁа-яё]+$")]
    last_name: Annotated[str, StringConstraints(max_length=64, pattern=r"^[^\x00]*$")] = ""
    birth_date: dt.date | None = None


class KbmIn(_In):
    """КБМ look-up for the drivers (or the owner of an unlimited policy) on the contract start date."""

    on: dt.date
    people: list[KbmPerson] = Field(min_length=1, max_length=10)


class KbmAnswerOut(BaseModel):
    """AIS's answer for one person."""

    document: str
    kbm_class: str
    found: bool
    request_id: str
    losses: int
    previous_policy: str | None
    previous_insurer: str | None


class KbmOut(BaseModel):
    """Answers in the order asked."""

    answers: list[KbmAnswerOut]


class ApplicationIn(_In):
    """An application filed at the kiosk (no money taken)."""

    sale_id: Id
    office: Text
    data: dict[str, Any] = Field(default_factory=dict)
    premium: Money | None = None


class ApplicationOut(BaseModel):
    """An application's number and status."""

    number: str
    status: str
    office: str
    updated_at: dt.datetime


class EventIn(_In):
    """One kiosk outbox event (``kiosk.outbox.envelope``)."""

    event_id: Id
    kind: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")]
    kiosk_id: Id
    sale_id: Id | None = None
    created_at: AwareDatetime
    payload: dict[str, Any]
    personal: dict[str, Any] | None = None


class EventBatch(_In):
    """A batch of events, oldest first (duplicates and any order are accepted)."""

    events: list[EventIn] = Field(max_length=1000)


class IngestProblem(BaseModel):
    """An event stored but not understood (a payload that does not match its kind)."""

    event_id: str
    error: str


class IngestAnswer(BaseModel):
    """Which events the server now holds: the kiosk may mark every acknowledged id as delivered."""

    acknowledged: list[str]
    stored: int
    duplicates: int
    problems: list[IngestProblem] = Field(default_factory=list)


class StatusOut(BaseModel):
    """Whether registration is possible now (the kiosk's preflight)."""

    kiosk_id: str
    server_time: dt.datetime
    rsa_available: bool


class StoredEventOut(BaseModel):
    """One event of the asking kiosk as the server stored it (personal data is never sent back)."""

    event_id: str
    kind: str
    sale_id: str | None
    created_at: dt.datetime
    payload: dict[str, Any]


class StoredEventsOut(BaseModel):
    """The asking kiosk's stored events, oldest first."""

    events: list[StoredEventOut]


# --- payloads of the kiosk's diagnostic events (emitted by the diagnostics issue) ---------------------


class PrinterHealth(BaseModel):
    """The printer as the kiosk last read it."""

    ready: bool
    warnings: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=20)
    blocking: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=20)


class TerminalHealth(BaseModel):
    """The card terminal as the kiosk last read it."""

    ready: bool
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class DeviceHealth(BaseModel):
    """Payload of a ``device.health`` event."""

    printer: PrinterHealth
    terminal: TerminalHealth
    paper_low: bool = False
    pending_outbox: int = Field(default=0, ge=0)
    tariff_version: Annotated[str, StringConstraints(max_length=32)] | None = None


class EndOfDayGroup(BaseModel):
    """Totals of one card type in an end-of-day report."""

    card_type: Annotated[str, StringConstraints(max_length=32)]
    count: int = Field(ge=0)
    amount: Money


class EndOfDay(BaseModel):
    """Payload of a ``terminal.end_of_day`` event: the terminal's batch totals at closing."""

    count: int = Field(ge=0)
    amount: Money
    groups: list[EndOfDayGroup] = Field(default_factory=list, max_length=50)
    receipt_range: tuple[Annotated[str, StringConstraints(max_length=16)], ...] | None = None
    at: AwareDatetime
    terminal_id: Annotated[str, StringConstraints(max_length=16)] | None = None
