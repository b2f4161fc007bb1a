"""The one place that builds real objects from configuration.

Services receive what they need as parameters; tests pass fakes instead of calling these builders.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from drivers.cardreader import ServiceCardReader, open_reader
from kiosk.config import KioskSettings
from kiosk.service_access import (
    AccessPolicy,
    AccessState,
    AuditEvent,
    Clock,
    PinHash,
    ServiceAccess,
    load_master_key,
)
from kiosk.service_mode import ServiceMode
from kiosk.service_store import JsonAttemptStore
from kiosk.tariffs import TariffEngine, load_base_rates, load_tariff_book

__all__ = ["card_reader", "service_access", "service_mode", "tariff_engine"]


def tariff_engine(settings: KioskSettings) -> TariffEngine:
    """The tariff book and the insurer's base rates named by the configuration, validated."""
    book = load_tariff_book(settings.path(settings.tariffs.dir))
    rates = load_base_rates(settings.path(settings.tariffs.base_rates), book)
    return TariffEngine(book, rates)


def card_reader(settings: KioskSettings, **kw: Any) -> ServiceCardReader:
    """The service card reader named by ``[cardreader] url`` (not started)."""
    return open_reader(settings.cardreader.url, **kw)


def service_access(
    settings: KioskSettings,
    *,
    audit: Callable[[AuditEvent], None] | None = None,
    clock: Clock | None = None,
) -> ServiceAccess:
    """Technician access from ``[service_card]``: master key file, enabled cards, PIN policy, attempt file."""
    section = settings.service_card
    policy = AccessPolicy(
        max_attempts=section.pin_attempts,
        lockout=timedelta(minutes=section.lockout_minutes),
        idle=timedelta(minutes=section.idle_minutes),
    )
    return ServiceAccess(
        master_key=load_master_key(settings.path(section.master_key_file)),
        cards={card.id: PinHash.parse(card.pin) for card in section.cards if card.enabled},
        store=JsonAttemptStore(settings.data_path(section.attempts_file)),
        policy=policy,
        clock=clock,
        audit=audit,
    )


def service_mode(
    settings: KioskSettings,
    *,
    on_change: Callable[[AccessState], None] | None = None,
    audit: Callable[[AuditEvent], None] | None = None,
    reader: ServiceCardReader | None = None,
    clock: Clock | None = None,
) -> ServiceMode:
    """The service card reader and technician access put together (call ``start()`` to watch)."""
    return ServiceMode(
        reader or card_reader(settings),
        service_access(settings, audit=audit, clock=clock),
        on_change,
    )
