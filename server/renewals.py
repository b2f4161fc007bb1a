"""Nightly renewal pricing: every policy ending within the horizon repriced with the tariffs in force.

The renewal starts the day the old policy ends. Drivers move one КБМ class up for a year without
claims (``next_kbm_class`` with no payouts: the insurer's own claims are not known here; the kiosk
looks the real class up in AIS when the customer comes back). Pricing runs in worker processes, each
with its own engine, in chunks, so a million policies take seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from kiosk.sale.model import DriverEntry, Person, SaleInput, VehicleEntry
from kiosk.tariffs import TariffEngine, load_base_rates, load_tariff_book, next_kbm_class, parse_request
from kiosk.validation import FieldError
from server.db import Database
from server.models import Policy, RenewalQuote

__all__ = ["RenewalItem", "RenewalResult", "due_policies", "price_items", "renew", "renewal_item"]

#: (policy id, start date ISO, vehicle, owner, drivers or None, extra) — plain data, cheap to send to a worker
RenewalItem = tuple[int, str, dict[str, Any], dict[str, Any], list[dict[str, Any]] | None, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RenewalResult:
    """The renewal premium of one policy, or why it could not be priced."""

    policy_id: int
    start_date: str
    premium: Decimal | None
    tariff_version: str | None
    coefficients: dict[str, str] | None
    error: str | None


def renewal_item(policy: Policy, zone: ZoneInfo) -> RenewalItem:
    """What pricing needs of a stored policy (no database objects cross the process boundary)."""
    start = policy.period_end.astimezone(zone).date()
    return (policy.id, start.isoformat(), policy.vehicle or {}, policy.owner or {}, policy.drivers, policy.extra or {})


_ENGINE: TariffEngine | None = None


def _init_worker(tables: str, rates: str) -> None:
    global _ENGINE  # noqa: PLW0603 - one engine per worker process, built once
    book = load_tariff_book(tables)
    _ENGINE = TariffEngine(book, load_base_rates(rates, book))


def _price(engine: TariffEngine, item: RenewalItem) -> RenewalResult:
    policy_id, start_text, vehicle, owner, drivers, extra = item
    start = dt.date.fromisoformat(start_text)
    try:
        tariff = engine.tariff_for(start)
        entries = None
        if drivers is not None:
            entries = tuple(
                DriverEntry.from_dict({**d, "kbm_class": next_kbm_class(tariff, str(d.get("kbm_class") or "3"), 0)})
                for d in drivers
            )
        owner_class = extra.get("owner_kbm_class")
        data = SaleInput(
            vehicle=VehicleEntry.from_dict(vehicle),
            owner=Person.from_dict(owner),
            start_date=start,
            drivers=entries,
            period_months=int(extra.get("period_months", 12)),
            owner_kbm_class=next_kbm_class(tariff, str(owner_class), 0) if owner_class else "3",
        )
        quote = engine.quote(parse_request(data.contract()))
    except (FieldError, LookupError, TypeError, ValueError) as exc:
        return RenewalResult(policy_id, start_text, None, None, None, str(exc)[:300])
    return RenewalResult(
        policy_id,
        start_text,
        quote.premium,
        quote.tariff_version,
        {f.code: str(f.value) for f in quote.factors},
        None,
    )


def _price_chunk(chunk: Sequence[RenewalItem]) -> list[RenewalResult]:
    assert _ENGINE is not None, "worker not initialised"
    return [_price(_ENGINE, item) for item in chunk]


def _chunks(items: Iterable[RenewalItem], size: int) -> Iterator[list[RenewalItem]]:
    chunk: list[RenewalItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def price_items(
    items: Iterable[RenewalItem],
    tables: Path,
    base_rates: Path,
    *,
    workers: int | None = None,
    chunk_size: int = 2000,
    on_chunk: Callable[[list[RenewalResult]], None] | None = None,
) -> Iterator[RenewalResult]:
    """Price renewal items in ``workers`` processes (in this process when 1); results in chunk order."""
    count = workers or os.cpu_count() or 1
    if count == 1:
        _init_worker(str(tables), str(base_rates))
        for chunk in _chunks(items, chunk_size):
            results = _price_chunk(chunk)
            if on_chunk:
                on_chunk(results)
            yield from results
        return
    # fork keeps the loaded modules; each worker still builds its own engine once.
    context = multiprocessing.get_context("fork")
    with context.Pool(count, initializer=_init_worker, initargs=(str(tables), str(base_rates))) as pool:
        for results in pool.imap(_price_chunk, _chunks(items, chunk_size)):
            if on_chunk:
                on_chunk(results)
            yield from results


def due_policies(database: Database, day: dt.date, zone: ZoneInfo, horizon_days: int) -> list[Policy]:
    """Active policies whose cover ends after ``day`` and within ``horizon_days`` days of it."""
    begin = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=horizon_days + 1), dt.time(), tzinfo=zone)
    with database.session() as session:
        return list(
            session.scalars(
                select(Policy)
                .where(Policy.status == "active", Policy.period_end >= begin, Policy.period_end < end)
                .order_by(Policy.period_end, Policy.id)
            ).all()
        )


def renew(
    database: Database,
    day: dt.date,
    zone: ZoneInfo,
    tables: Path,
    base_rates: Path,
    *,
    horizon_days: int = 30,
    workers: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int]:
    """Price every due policy and store the quotes (replacing earlier ones); returns (priced, failed)."""
    policies = due_policies(database, day, zone, horizon_days)
    items = [renewal_item(p, zone) for p in policies]
    priced = failed = 0
    now = dt.datetime.now(dt.UTC)

    def store(results: list[RenewalResult]) -> None:
        nonlocal priced, failed
        with database.transaction() as session:
            for result in results:
                session.execute(
                    delete(RenewalQuote).where(
                        RenewalQuote.policy_id == result.policy_id, RenewalQuote.start_date == result.start_date
                    )
                )
                session.add(
                    RenewalQuote(
                        policy_id=result.policy_id,
                        start_date=result.start_date,
                        premium=result.premium,
                        tariff_version=result.tariff_version,
                        coefficients=result.coefficients,
                        error=result.error,
                        priced_at=now,
                    )
                )
                if result.error:
                    failed += 1
                else:
                    priced += 1
        if progress:
            progress(len(results))

    for _ in price_items(items, tables, base_rates, workers=workers, chunk_size=500, on_chunk=store):
        pass
    return priced, failed
