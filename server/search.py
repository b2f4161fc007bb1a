"""Equality search on sealed personal data: blind-index digests of normalised values.

A policy or an application is findable by the phone and passport of its policyholder and owner, the
licences of its drivers, and the plate, VIN or body number of its vehicle. Each value is normalised
the way the kiosk normalises what a customer types (``kiosk.validation``: ``+7 (916) 123-45-67`` and
``89161234567`` are the same phone, Latin look-alikes in a plate are Cyrillic), then digested with
the database's index key (``Keyring.digest``). Searching digests the value asked for the same way and
compares digests in SQL (``Registry.find_policies``); the value itself is never stored in the clear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kiosk.validation import (
    FieldError,
    normalize_body_number,
    normalize_licence,
    normalize_passport,
    normalize_phone,
    normalize_plate,
    normalize_vin,
)
from server.keys import Keyring

__all__ = ["FIELDS", "SearchError", "digests", "normalise", "search_digests"]

_NORMALISERS: dict[str, Callable[[object, str], str]] = {
    "phone": normalize_phone,
    "passport": normalize_passport,
    "licence": normalize_licence,
    "plate": normalize_plate,
    "vin": normalize_vin,
    "body_number": normalize_body_number,
}
#: the fields a policy or application can be found by
FIELDS = tuple(_NORMALISERS)
#: the fields that name a vehicle (a later policy for the same vehicle is a renewal)
VEHICLE_FIELDS = ("plate", "vin", "body_number")


class SearchError(ValueError):
    """A value to search for that cannot be normalised (``message`` is Russian, for the operator)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise(field: str, value: object) -> str | None:
    """The canonical form of ``value`` as ``field``; None when it has none (not indexed)."""
    if value in (None, ""):
        return None
    try:
        return _NORMALISERS[field](value, field)
    except FieldError:
        # Stored as the kiosk sent it; index what it compacts to, so an exact retype still finds it.
        compact = "".join(str(value).split()).upper()
        return compact or None


def _values(
    vehicle: dict[str, Any] | None,
    people: list[dict[str, Any] | None],
    drivers: list[Any] | None,
) -> Iterator[tuple[str, object]]:
    for person in people:
        if isinstance(person, dict):
            yield "phone", person.get("phone")
            yield "passport", person.get("passport")
    for driver in drivers or ():
        if isinstance(driver, dict):
            yield "licence", driver.get("licence")
    if isinstance(vehicle, dict):
        for name in VEHICLE_FIELDS:
            yield name, vehicle.get(name)


def digests(
    keyring: Keyring,
    *,
    vehicle: dict[str, Any] | None = None,
    people: list[dict[str, Any] | None] | None = None,
    drivers: list[Any] | None = None,
) -> set[tuple[str, str]]:
    """(field, digest) of every searchable value of one policy or application."""
    out: set[tuple[str, str]] = set()
    for field, value in _values(vehicle, people or [], drivers):
        normalised = normalise(field, value)
        if normalised is not None:
            out.add((field, keyring.digest(field, normalised)))
    return out


def personal_digests(keyring: Keyring, personal: dict[str, Any] | None) -> set[tuple[str, str]]:
    """The digests of an event's or application's ``personal`` part (policyholder, owner, drivers, vehicle)."""
    if not isinstance(personal, dict):
        return set()
    drivers = personal.get("drivers")
    return digests(
        keyring,
        vehicle=personal.get("vehicle"),
        people=[personal.get("policyholder"), personal.get("owner")],
        drivers=drivers if isinstance(drivers, list) else None,
    )


def search_digests(keyring: Keyring, field: str, value: str) -> str:
    """The digest to look for when an operator searches ``field`` for ``value``."""
    if field not in _NORMALISERS:
        raise SearchError(f"поиск по полю {field!r} не предусмотрен")
    normalised = normalise(field, value)
    if normalised is None:
        raise SearchError("пустой запрос")
    return keyring.digest(field, normalised)
