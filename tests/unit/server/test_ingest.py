"""Exactly-once ingest and order-independent projections, on a real SQLite file (in-process)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from server.db import Database, open_database
from server.ingest import ingest_events
from server.keys import Keyring
from server.models import EndOfDay, Event, Kiosk, Payment, Policy, Sale
from server.schemas import EventIn
from tests.support.sale_events import envelopes

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('ingest') / 'server.db'}", keyring=Keyring.generate())
    with db.transaction() as session:
        session.add(Kiosk(id="KIOSK-0001", secret="0" * 64, enabled=True, created_at=NOW))
    yield db
    db.close()


def _clear(db: Database) -> None:
    with db.transaction() as session:
        for table in (Event, Sale, Payment, Policy, EndOfDay):
            session.execute(delete(table))


def _state(db: Database) -> tuple[object, ...]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Event)),
            tuple(session.execute(select(Sale.status, Sale.amount)).all()),
            tuple(session.execute(select(Payment.status, Payment.amount, Payment.receipt_no)).all()),
            tuple(session.execute(select(Policy.status, Policy.premium, Policy.number)).all()),
        )


SALE = [EventIn.model_validate(e) for e in envelopes("KIOSK-0001", 1, at=NOW)]


@given(order=st.permutations(range(len(SALE))), repeat=st.lists(st.integers(0, len(SALE) - 1), max_size=4),
       split=st.integers(1, len(SALE)))  # fmt: skip
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_order_and_any_duplication_projects_the_same_sale(
    database: Database, order: list[int], repeat: list[int], split: int
) -> None:
    _clear(database)
    events = [SALE[i] for i in order] + [SALE[i] for i in repeat]
    first = ingest_events(database, "KIOSK-0001", events[:split], NOW)
    second = ingest_events(database, "KIOSK-0001", events[split:], NOW)

    assert first.stored + second.stored == len(SALE)
    assert set(first.acknowledged) | set(second.acknowledged) == {e.event_id for e in SALE}
    count, sales, payments, policies = _state(database)
    assert count == len(SALE)
    assert [s[0] for s in sales] == ["completed"]
    assert str(sales[0][1]) == SALE[-1].payload["amount"]
    assert [p[0] for p in payments] == ["committed"]
    assert [p[0] for p in policies] == ["active"]


def test_a_payload_that_does_not_match_its_kind_is_stored_and_reported_not_lost(database: Database) -> None:
    _clear(database)
    broken = EventIn(event_id="e-broken-1", kind="terminal.end_of_day", kiosk_id="KIOSK-0001", sale_id=None,
                     created_at=NOW, payload={"count": "many"})  # fmt: skip
    health = EventIn(event_id="e-health-1", kind="device.health", kiosk_id="KIOSK-0001", sale_id=None, created_at=NOW,
                     payload={"printer": {"ready": True}, "terminal": {"ready": False, "reason": "нет связи"},
                              "paper_low": True, "pending_outbox": 3})  # fmt: skip

    result = ingest_events(database, "KIOSK-0001", [broken, health], NOW)

    assert result.acknowledged == ["e-broken-1", "e-health-1"]
    assert [p[0] for p in result.problems] == ["e-broken-1"]
    with database.session() as session:
        kiosk = session.get(Kiosk, "KIOSK-0001")
        assert kiosk is not None and kiosk.health is not None
        assert kiosk.health["terminal"] == {"ready": False, "reason": "нет связи"}
        assert session.scalar(select(func.count()).select_from(EndOfDay)) == 0


def test_an_older_health_report_never_replaces_a_newer_one(database: Database) -> None:
    def health(event_id: str, at: dt.datetime, paper_low: bool) -> EventIn:
        return EventIn(event_id=event_id, kind="device.health", kiosk_id="KIOSK-0001", sale_id=None, created_at=at,
                       payload={"printer": {"ready": True}, "terminal": {"ready": True}, "paper_low": paper_low})  # fmt: skip

    ingest_events(database, "KIOSK-0001", [health("h-new", NOW + dt.timedelta(hours=1), True)], NOW)
    ingest_events(database, "KIOSK-0001", [health("h-old", NOW, False)], NOW)

    with database.session() as session:
        kiosk = session.get(Kiosk, "KIOSK-0001")
        assert kiosk is not None and kiosk.health is not None and kiosk.health["paper_low"] is True
