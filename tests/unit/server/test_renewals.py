"""Renewal pricing: due policies only, the tariffs in force on the new start, drivers one КБМ class up."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kiosk.bootstrap import tariff_engine
from kiosk.config import load_settings
from kiosk.tariffs import next_kbm_class, parse_request
from server.db import open_database
from server.keys import Keyring
from server.models import Policy, RenewalQuote
from server.renewals import renew

MSK = ZoneInfo("Europe/Moscow")
VEHICLE = {"category": "B", "make": "Lada", "model": "Vesta", "year": 2020, "power_hp": "106",
           "document_type": "СТС", "document_number": "7700123456", "plate": "А123ВС77"}  # fmt: skip
OWNER = {"last_name": "Иванов", "first_name": "Иван", "birth_date": "1980-01-01", "region_code": "77",
         "locality": "Москва"}  # fmt: skip
DRIVERS = [{"last_name": "Иванов", "first_name": "Иван", "birth_date": "1980-01-01", "licence": "7701123456",
            "licence_date": "2000-05-05", "kbm_class": "10"}]  # fmt: skip


def _policy(number: str, end: dt.date, drivers: list[dict[str, str]] | None = DRIVERS) -> Policy:
    start = dt.datetime.combine(end.replace(year=end.year - 1), dt.time(), tzinfo=MSK)
    return Policy(
        kiosk_id="KIOSK-0001", sale_id=f"s-{number}", idempotency_key=None, series="ХХХ", number=number,
        status="active", period_start=start, period_end=dt.datetime.combine(end, dt.time(), tzinfo=MSK),
        premium=Decimal("9000.00"), tariff_version="7204-U", coefficients={}, vehicle=VEHICLE, policyholder=OWNER,
        owner=OWNER, drivers=drivers, extra={"period_months": 12, "owner_kbm_class": "5"}, source="api",
        registered_at=start,
    )  # fmt: skip


def test_policies_ending_in_the_next_30_days_are_priced_with_next_years_classes(
    config_dir: Path, tmp_path: Path
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'server.db'}", keyring=Keyring.generate())
    today = dt.date(2026, 11, 21)
    with db.transaction() as session:
        session.add(_policy("0000000001", today + dt.timedelta(days=10)))
        session.add(_policy("0000000002", today + dt.timedelta(days=30), drivers=None))
        session.add(_policy("0000000003", today + dt.timedelta(days=45)))  # not due yet
        session.add(_policy("0000000004", today))  # ended today: too late for a reminder
    settings = load_settings(config_dir / "kiosk.toml")

    priced, failed = renew(db, today, MSK, settings.path(settings.tariffs.dir),
                           settings.path(settings.tariffs.base_rates), workers=1)  # fmt: skip

    with db.session() as session:
        quotes = {q.policy_id: q for q in session.scalars(select(RenewalQuote))}
        ids = {p.number: p.id for p in session.scalars(select(Policy))}
    db.close()
    assert (priced, failed) == (2, 0)
    assert set(quotes) == {ids["0000000001"], ids["0000000002"]}
    engine = tariff_engine(settings)
    start = today + dt.timedelta(days=10)
    expected = engine.quote(parse_request({
        "date": start.isoformat(), "owner": {"type": "individual"},
        "vehicle": {"category": "B", "power_hp": 106, "purpose": "personal", "trailer": False},
        "territory": {"region_code": "77", "locality": "Москва"}, "period_months": 12,
        "drivers": [{"birth_date": "1980-01-01", "licence_date": "2000-05-05",
                     "kbm_class": next_kbm_class(engine.tariff_for(start), "10", 0)}],
    }))  # fmt: skip
    first = quotes[ids["0000000001"]]
    assert first.start_date == start.isoformat()
    assert first.premium == expected.premium
    assert first.coefficients is not None and first.coefficients["KBM"] == str(expected.factor("KBM").value)


def test_the_fast_renewal_request_is_the_one_the_quote_contract_would_give(config_dir: Path) -> None:
    from dataclasses import replace

    from kiosk.sale.samples import sample_customers
    from server.renewals import renewal_request

    settings = load_settings(config_dir / "kiosk.toml")
    engine = tariff_engine(settings)
    start = dt.date(2027, 3, 1)
    tariff = engine.tariff_for(start)
    for customer in sample_customers(200, dt.date(2026, 3, 1), seed=7):
        drivers = [d.to_dict() for d in customer.drivers] if customer.drivers is not None else None
        item = (1, start.isoformat(), customer.vehicle.to_dict(), customer.owner.to_dict(), drivers,
                {"period_months": customer.period_months, "owner_kbm_class": customer.owner_kbm_class})  # fmt: skip
        renewed = replace(
            customer,
            start_date=start,
            drivers=tuple(
                replace(d, kbm_class=next_kbm_class(tariff, d.kbm_class or tariff.kbm_start_class, 0))
                for d in customer.drivers
            )
            if customer.drivers is not None
            else None,
            owner_kbm_class=next_kbm_class(tariff, customer.owner_kbm_class or tariff.kbm_start_class, 0)
            if customer.drivers is None
            else customer.owner_kbm_class,
        )
        assert renewal_request(item, engine) == parse_request(renewed.contract()), customer
