"""Personal data leaves the kiosk once the server has it and the retention period is over."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from kiosk.journal.models import OutboxEvent, PersonalData
from kiosk.sale.retention import purge_personal_data
from tests.unit.sale.conftest import NOW, Rig
from tests.unit.sale.test_service import ready_sale

LATER = NOW + dt.timedelta(days=31)


def completed_sale(rig: Rig) -> str:
    sale_id = ready_sale(rig)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))
    return sale_id


def acknowledge_all(rig: Rig) -> None:
    with rig.journal.transaction() as session:
        session.execute(update(OutboxEvent).values(acked_at=NOW))


def personal(rig: Rig, sale_id: str) -> PersonalData:
    with rig.journal.session() as session:
        row = session.get(PersonalData, sale_id)
        assert row is not None
        return row


def test_acknowledged_sale_past_retention_loses_its_personal_data(rig: Rig) -> None:
    sale_id = completed_sale(rig)
    acknowledge_all(rig)

    assert purge_personal_data(rig.journal, now=LATER, retention_days=30) == 1

    assert personal(rig, sale_id).ciphertext is None
    assert personal(rig, sale_id).purged_at == LATER
    with rig.journal.session() as session:
        assert session.scalars(select(OutboxEvent.sealed).where(OutboxEvent.sealed.is_not(None))).all() == []


def test_personal_data_stays_until_the_server_acknowledged_every_event(rig: Rig) -> None:
    sale_id = completed_sale(rig)

    assert purge_personal_data(rig.journal, now=LATER, retention_days=30) == 0
    assert personal(rig, sale_id).ciphertext is not None


def test_personal_data_stays_during_the_retention_period(rig: Rig) -> None:
    sale_id = completed_sale(rig)
    acknowledge_all(rig)

    assert purge_personal_data(rig.journal, now=NOW + dt.timedelta(days=29), retention_days=30) == 0
    assert personal(rig, sale_id).ciphertext is not None


def test_an_unfinished_sale_keeps_its_personal_data(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    acknowledge_all(rig)

    assert purge_personal_data(rig.journal, now=LATER, retention_days=0) == 0
    assert personal(rig, sale_id).ciphertext is not None
