"""What the customer enters: vehicle, owner, policyholder, drivers, period.

These objects hold personal data: they are encrypted before they reach the journal (``to_dict`` →
``PersonalDataCipher``) and never logged. ``quote_request`` turns them into the quote contract so the
touchscreen, the demo and the server all price through the same validation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from kiosk.tariffs import QuoteRequest, parse_request

__all__ = ["DriverEntry", "Person", "SaleInput", "VehicleEntry"]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


class _Record:
    """``to_dict``/``from_dict`` for the frozen dataclasses below (dates and decimals as text)."""

    _dates: tuple[str, ...] = ()
    _decimals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def _convert(cls, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        for name in cls._dates:
            if out.get(name) is not None:
                out[name] = dt.date.fromisoformat(out[name])
        for name in cls._decimals:
            if out.get(name) is not None:
                out[name] = Decimal(out[name])
        return out


@dataclass(frozen=True)
class Person(_Record):
    """The owner or the policyholder."""

    last_name: str
    first_name: str
    birth_date: dt.date
    middle_name: str | None = None
    passport: str | None = None
    address: str | None = None
    region_code: str | None = None
    locality: str | None = None
    phone: str | None = None
    email: str | None = None

    _dates = ("birth_date",)

    @property
    def full_name(self) -> str:
        """Фамилия Имя Отчество."""
        return " ".join(part for part in (self.last_name, self.first_name, self.middle_name) if part)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Person:
        """Back from ``to_dict``."""
        return cls(**cls._convert(data))


@dataclass(frozen=True)
class DriverEntry(_Record):
    """A driver on a limited list; ``kbm_class`` comes from the insurer's look-up."""

    last_name: str
    first_name: str
    birth_date: dt.date
    licence: str
    licence_date: dt.date
    middle_name: str | None = None
    kbm_class: str | None = None

    _dates = ("birth_date", "licence_date")

    @property
    def full_name(self) -> str:
        """Фамилия Имя Отчество."""
        return " ".join(part for part in (self.last_name, self.first_name, self.middle_name) if part)

    @property
    def licence_document(self) -> str:
        """The licence without spaces, as the insurance database keys it."""
        return self.licence.replace(" ", "")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriverEntry:
        """Back from ``to_dict``."""
        return cls(**cls._convert(data))


@dataclass(frozen=True)
class VehicleEntry(_Record):
    """The vehicle as its registration document describes it."""

    category: str
    make: str
    model: str
    year: int
    power_hp: Decimal
    document_type: str
    document_number: str
    purpose: str = "personal"
    plate: str | None = None
    vin: str | None = None
    body_number: str | None = None
    trailer: bool = False
    max_mass_kg: int | None = None
    seats: int | None = None

    _decimals = ("power_hp",)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VehicleEntry:
        """Back from ``to_dict``."""
        return cls(**cls._convert(data))


@dataclass(frozen=True)
class SaleInput(_Record):
    """Everything a sale needs from the customer. ``drivers is None`` means an unlimited list."""

    vehicle: VehicleEntry
    owner: Person
    start_date: dt.date
    drivers: tuple[DriverEntry, ...] | None = None
    policyholder: Person | None = None
    period_months: int = 12
    owner_kbm_class: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _dates = ("start_date",)

    @property
    def holder(self) -> Person:
        """The policyholder (the owner unless someone else concludes the contract)."""
        return self.policyholder or self.owner

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SaleInput:
        """Back from ``to_dict``."""
        out = cls._convert(data)
        out["vehicle"] = VehicleEntry.from_dict(out["vehicle"])
        out["owner"] = Person.from_dict(out["owner"])
        if out.get("policyholder") is not None:
            out["policyholder"] = Person.from_dict(out["policyholder"])
        if out.get("drivers") is not None:
            out["drivers"] = tuple(DriverEntry.from_dict(d) for d in out["drivers"])
        return cls(**out)

    def with_kbm(self, driver_classes: list[str] | None, owner_class: str | None) -> SaleInput:
        """The same input with the КБМ classes the insurer reported."""
        drivers = self.drivers
        if drivers is not None and driver_classes is not None:
            drivers = tuple(replace(d, kbm_class=c) for d, c in zip(drivers, driver_classes, strict=True))
        return replace(self, drivers=drivers, owner_kbm_class=owner_class or self.owner_kbm_class)

    def contract(self) -> dict[str, Any]:
        """The quote-contract request for this input (the same JSON ``osago-kiosk quote`` takes)."""
        vehicle: dict[str, Any] = {
            "category": self.vehicle.category,
            "power_hp": self.vehicle.power_hp,
            "purpose": self.vehicle.purpose,
            "trailer": self.vehicle.trailer,
        }
        if self.vehicle.max_mass_kg is not None:
            vehicle["max_mass_kg"] = self.vehicle.max_mass_kg
        if self.vehicle.seats is not None:
            vehicle["seats"] = self.vehicle.seats
        request: dict[str, Any] = {
            "date": self.start_date.isoformat(),
            "owner": {"type": "individual"},
            "vehicle": vehicle,
            "territory": {"region_code": self.owner.region_code, "locality": self.owner.locality},
            "period_months": self.period_months,
        }
        if self.drivers is None:
            request["drivers"] = "unlimited"
            request["owner_kbm_class"] = self.owner_kbm_class
        else:
            request["drivers"] = [
                {
                    "birth_date": d.birth_date.isoformat(),
                    "licence_date": d.licence_date.isoformat(),
                    "kbm_class": d.kbm_class,
                }
                for d in self.drivers
            ]
        return request

    def quote_request(self) -> QuoteRequest:
        """Validated through the quote contract (FieldError with the contract's field path)."""
        return parse_request(self.contract())
