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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from kiosk.tariffs import (
    Driver,
    OwnerType,
    QuoteRequest,
    Tariff,
    TariffEngine,
    load_base_rates,
    load_tariff_book,
    next_kbm_class,
    tariff_category,
)
from kiosk.validation import FieldError
from server.db import Database, open_database
from server.keys import Keyring
from server.models import Policy, RenewalQuote

T = TypeVar("T")

__all__ = [
    "RenewalItem",
    "RenewalResult",
    "due_policies",
    "price",
    "renew",
    "renewal_item",
    "renewal_request",
    "run_in_workers",
    "worker_engine",
]

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


_NEXT_CLASS: dict[tuple[int, str], str] = {}


def _next_class(tariff: Tariff, current: object) -> str:
    """The class after a year without claims (memoised: a nightly run asks the same few thousand times)."""
    known = str(current or tariff.kbm_start_class)
    key = (id(tariff), known)
    found = _NEXT_CLASS.get(key)
    if found is None:
        found = _NEXT_CLASS[key] = next_kbm_class(tariff, known, 0)
    return found


def renewal_request(item: RenewalItem, engine: TariffEngine) -> QuoteRequest:
    """The quote request of a renewal, built straight from the stored contract.

    The contract was validated when it was sold (``SaleInput.contract`` → ``parse_request``); this is
    the same mapping without re-validating every field, because the nightly run prices every policy
    due and must stay fast. ``tests/unit/server/test_renewals.py`` checks both paths agree.
    """
    _policy_id, start_text, vehicle, owner, drivers, extra = item
    start = dt.date.fromisoformat(start_text)
    tariff = engine.tariff_for(start)
    purpose = str(vehicle.get("purpose") or "personal")
    entries = None
    owner_class = None
    if drivers is not None:
        entries = tuple(
            Driver(
                birth_date=dt.date.fromisoformat(d["birth_date"]),
                licence_date=dt.date.fromisoformat(d["licence_date"]),
                kbm_class=_next_class(tariff, d.get("kbm_class")),
            )
            for d in drivers
        )
    else:
        owner_class = _next_class(tariff, extra.get("owner_kbm_class"))
    return QuoteRequest(
        start_date=start,
        category=tariff_category(vehicle, OwnerType.INDIVIDUAL, purpose),
        owner_type=OwnerType.INDIVIDUAL,
        power_hp=Decimal(str(vehicle["power_hp"])) if vehicle.get("power_hp") is not None else None,
        trailer=bool(vehicle.get("trailer", False)),
        region_code=owner.get("region_code"),
        locality=owner.get("locality"),
        period_months=int(extra.get("period_months") or 12),
        drivers=entries,
        owner_kbm_class=owner_class,
    )


def _price(engine: TariffEngine, item: RenewalItem) -> RenewalResult:
    policy_id, start_text = item[0], item[1]
    try:
        quote = engine.quote(renewal_request(item, engine))
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


def price(engine: TariffEngine, items: Iterable[RenewalItem]) -> list[RenewalResult]:
    """Price renewal items in this process."""
    return [_price(engine, item) for item in items]


# --- worker processes ----------------------------------------------------------------------------
# Each worker builds its own engine and, for the nightly run, opens its own database connection: it
# loads its chunk of policies, prices them and stores the quotes itself, so the parent only hands
# out id ranges and nothing heavy crosses a process boundary.

_ENGINE: TariffEngine | None = None
_DATABASE: Database | None = None


def _init_worker(tables: str, rates: str, database_url: str | None = None, keyring: Keyring | None = None) -> None:
    global _ENGINE, _DATABASE  # noqa: PLW0603 - one engine (and connection pool) per worker process
    book = load_tariff_book(tables)
    _ENGINE = TariffEngine(book, load_base_rates(rates, book))
    _DATABASE = open_database(database_url, keyring=keyring, create=False) if database_url else None


def worker_engine() -> TariffEngine:
    """The engine of this worker process (after ``run_in_workers`` initialised it)."""
    assert _ENGINE is not None, "worker not initialised"
    return _ENGINE


def run_in_workers(
    job: Callable[[T], tuple[int, int]],
    specs: Iterable[T],
    tables: Path,
    base_rates: Path,
    *,
    database_url: str | None = None,
    keyring: Keyring | None = None,
    workers: int | None = None,
) -> Iterator[tuple[int, int]]:
    """Run ``job(spec)`` for every spec in worker processes; yields each job's (priced, failed)."""
    count = workers or os.cpu_count() or 1
    initargs = (str(tables), str(base_rates), database_url, keyring)
    if count == 1:
        _init_worker(*initargs)
        yield from (job(spec) for spec in specs)
        return
    # fork: the workers start with the code (and the keys) already in memory; nothing is pickled.
    context = multiprocessing.get_context("fork")
    with context.Pool(count, initializer=_init_worker, initargs=initargs) as pool:
        yield from pool.imap_unordered(job, specs)


def _renew_chunk(spec: tuple[list[int], str, str]) -> tuple[int, int]:
    """Load these policies, price their renewals and store the quotes (replacing earlier ones)."""
    ids, zone_name, now_text = spec
    assert _DATABASE is not None, "worker has no database"
    zone, now = ZoneInfo(zone_name), dt.datetime.fromisoformat(now_text)
    with _DATABASE.session() as session:
        items = [renewal_item(p, zone) for p in session.scalars(select(Policy).where(Policy.id.in_(ids)))]
    results = price(worker_engine(), items)
    with _DATABASE.transaction() as session:
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
    failed = sum(1 for r in results if r.error)
    return len(results) - failed, failed


def due_policies(database: Database, day: dt.date, zone: ZoneInfo, horizon_days: int) -> list[int]:
    """Ids of active policies whose cover ends after ``day`` and within ``horizon_days`` days of it."""
    begin = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=horizon_days + 1), dt.time(), tzinfo=zone)
    with database.session() as session:
        return list(
            session.scalars(
                select(Policy.id)
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
    chunk_size: int = 500,
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int]:
    """Price every due policy and store the quotes; returns (priced, failed)."""
    ids = due_policies(database, day, zone, horizon_days)
    now = dt.datetime.now(dt.UTC).isoformat()
    url = database.engine.url.render_as_string(hide_password=False)
    specs = [(ids[i : i + chunk_size], zone.key, now) for i in range(0, len(ids), chunk_size)]
    priced = failed = 0
    jobs = run_in_workers(
        _renew_chunk, specs, tables, base_rates, database_url=url, keyring=database.keyring, workers=workers
    )
    for done, refused in jobs:
        priced += done
        failed += refused
        if progress:
            progress(done + refused)
    return priced, failed
