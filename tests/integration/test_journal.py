"""The journal on a real SQLite file: durability pragmas, migrations equal to the models, exact values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from kiosk.journal.db import open_journal
from kiosk.journal.models import Base, OutboxEvent, PaymentAttempt, SaleRecord

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def test_journal_is_created_with_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "data" / "journal.db")

    with journal.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert journal.integrity_check() == "ok"


def test_migrations_produce_exactly_the_models_schema(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.db")

    with journal.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert diff == []
    assert journal.head_revision() == "0002"


def test_reopening_a_migrated_journal_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with open_journal(path).transaction() as session:
        session.add(SaleRecord(id="s1", kiosk_id="K", state="created", created_at=NOW, updated_at=NOW))

    with open_journal(path).session() as session:
        assert session.get(SaleRecord, "s1") is not None


def test_money_and_times_come_back_exactly(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.db")
    with journal.transaction() as session:
        session.add(
            SaleRecord(
                id="s1", kiosk_id="K", state="created", created_at=NOW, updated_at=NOW, amount=Decimal("43686.89")
            )
        )
        session.add(
            PaymentAttempt(
                sale_id="s1", attempt=1, key="s1:pay:1", status="started", amount=Decimal("0.10"), started_at=NOW
            )
        )

    with journal.session() as session:
        sale = session.get(SaleRecord, "s1")
        assert sale is not None
        assert sale.amount == Decimal("43686.89") and isinstance(sale.amount, Decimal)
        assert sale.payments[0].amount == Decimal("0.10")
        assert sale.created_at == NOW and sale.created_at.tzinfo is not None


def test_naive_times_and_float_money_are_refused(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.db")

    with pytest.raises(StatementError, match="time-zone aware"), journal.transaction() as session:
        session.add(
            SaleRecord(id="s1", kiosk_id="K", state="created", created_at=dt.datetime(2026, 1, 1), updated_at=NOW)
        )
    with pytest.raises(StatementError, match="finite Decimal"), journal.transaction() as session:
        session.add(SaleRecord(id="s2", kiosk_id="K", state="created", created_at=NOW, updated_at=NOW, amount=1.5))  # type: ignore[arg-type]


def test_a_failed_unit_of_work_leaves_nothing_behind(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.db")

    with pytest.raises(RuntimeError), journal.transaction() as session:
        session.add(SaleRecord(id="s1", kiosk_id="K", state="created", created_at=NOW, updated_at=NOW))
        session.add(OutboxEvent(event_id="e1", kind="sale.created", payload={}, created_at=NOW, attempts=0))
        raise RuntimeError("crash before commit")

    with journal.session() as session:
        assert session.get(SaleRecord, "s1") is None
        assert session.query(OutboxEvent).count() == 0


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.db")

    with pytest.raises(Exception, match="FOREIGN KEY"), journal.transaction() as session:
        session.add(
            PaymentAttempt(sale_id="nope", attempt=1, key="k", status="started", amount=Decimal(1), started_at=NOW)
        )
