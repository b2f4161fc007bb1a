"""The sale when the journal cannot write (a full disk, on fakes): for every write of a paid sale, the
N-th and all after it fail. The terminal is confirmed only after the journal recorded "confirming"; any
failure before that refuses the goods; after the commit point the outcome is kept in the sidecar, and
recovery, once there is space, leaves every sale finished — completed where the money was committed."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
from sqlalchemy import select

from drivers.payment.recorder import RecordingTerminal
from drivers.printer.recorder import RecordingPrinter
from kiosk.journal.db import JournalWriteError
from kiosk.journal.guard import JournalGuard
from kiosk.journal.models import SaleRecord
from kiosk.journal.sidecar import read_sidecar
from kiosk.sale.recovery import recover
from kiosk.sale.samples import sample_customer
from kiosk.sale.service import JournalFailedError, KioskBusyError, SaleService
from kiosk.sale.states import FINAL, SaleState
from tests.support.journal_faults import DiskFull
from tests.unit.sale.conftest import MOSCOW, NOW, Rig

Usage = namedtuple("Usage", "total used free")
START = NOW.astimezone(MOSCOW).date() + dt.timedelta(days=3)


def service_on(rig: Rig, tmp: Path, fault: DiskFull | None, terminal: RecordingTerminal) -> SaleService:
    guard = JournalGuard(
        data_dir=tmp, journal_file=tmp / "journal.db", sidecar_file=tmp / "journal.sidecar", kiosk_id="KIOSK-TEST",
        min_free_bytes=1, connection_factory=fault.connection_class() if fault else None,
    )  # fmt: skip
    guarded = guard.open()
    assert guarded is not None
    return SaleService(
        journal=guarded.journal, tariffs=rig.tariffs, terminal=terminal, printer=rig.printer, insurer=rig.insurer,
        cipher=rig.cipher, config=rig.config, clock=lambda: NOW, sleep=lambda _s: None,
    )  # fmt: skip


def paid_sale(service: SaleService, seed: int) -> str | None:
    """Start to payment; None when the journal stopped the sale before it existed."""
    act = lambda: str(uuid.uuid4())  # noqa: E731
    try:
        sale_id = service.start_sale(action_id=act())
    except JournalWriteError:
        return None
    try:
        service.enter(sale_id, sample_customer(random.Random(seed), START), action_id=act())
        service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=act())
        if service.preflight(sale_id).ready:
            service.pay(sale_id, action_id=act())
        else:
            service.abandon(sale_id, "not ready")
    except (JournalWriteError, JournalFailedError):
        pass
    return sale_id


def test_a_full_disk_at_any_write_of_a_paid_sale_never_confirms_unjournaled_and_recovery_finishes_every_sale(
    rig: Rig, tmp_path: Path
) -> None:
    counter = DiskFull()
    clean = service_on(rig, tmp_path / "count", counter, RecordingTerminal())
    counter.arm(10_000)
    assert paid_sale(clean, 1) is not None
    total = counter.writes
    assert total >= 12
    for n in range(1, total + 1):
        data = tmp_path / f"n{n}"
        fault, terminal = DiskFull(), RecordingTerminal()
        service = service_on(rig, data, fault, terminal)
        fault.arm(n)
        sale_id = paid_sale(service, n)
        fault.disarm()
        service.journal.close()
        if "confirm_goods" in terminal.call_names:
            assert n > total - 3, f"write {n}: confirmed although the journal was failing"
        restarted = service_on(rig, data, None, terminal)
        recover(restarted)
        if sale_id is None:
            continue
        with restarted.journal.session() as session:
            sale = session.get(SaleRecord, sale_id)
            assert sale is not None
            state = SaleState(sale.state)
        assert state in FINAL and state is not SaleState.FLAGGED, f"write {n}: {state}"
        if "confirm_goods" in terminal.call_names:
            assert state is SaleState.COMPLETED, f"write {n}: the money was committed, the sale is {state}"
        elif "refuse_goods" in terminal.call_names:
            assert state is SaleState.REVERSED, f"write {n}: {state}"
        assert read_sidecar(data / "journal.sidecar").notes == ()
        restarted.journal.close()


def test_an_outcome_the_journal_could_not_record_stops_sales_until_it_is_recorded(rig: Rig, tmp_path: Path) -> None:
    fault, terminal = DiskFull(), RecordingTerminal()
    service = service_on(rig, tmp_path, fault, terminal)
    fault.arm(10_000)
    sale_id = paid_sale(service, 2)
    assert sale_id is not None
    completing = fault.writes - 2  # the completion (the memo's two writes follow it)
    # Again, with the completion failing and the disk staying full for a while.
    fault.arm(completing, stays=True)
    second = paid_sale(service, 3)
    fault.disarm()
    assert second is not None and [n.sale_id for n in service.unrecorded] == [second]
    assert [n.money for n in read_sidecar(tmp_path / "journal.sidecar").notes] == ["committed"]
    fault.arm(1)  # still full: the next customer cannot start (the kept outcome is tried first, in vain)
    with pytest.raises(KioskBusyError):
        service.start_sale(action_id=str(uuid.uuid4()))
    fault.disarm()
    third = service.start_sale(action_id=str(uuid.uuid4()))
    service.enter(third, sample_customer(random.Random(4), START), action_id=str(uuid.uuid4()))
    service.consent(third, {"personal_data": "v1", "policy_terms": "v1"}, action_id=str(uuid.uuid4()))
    assert service.preflight(third).ready  # space again: the kept outcome is recorded first
    assert service.unrecorded == [] and read_sidecar(tmp_path / "journal.sidecar").notes == ()
    with service.journal.session() as session:
        states = dict(session.execute(select(SaleRecord.id, SaleRecord.state)).all())
    assert states[second] == "completed"


def test_preflight_refuses_money_and_the_application_path_with_too_little_free_space(rig: Rig, tmp_path: Path) -> None:
    service = service_on(rig, tmp_path, None, RecordingTerminal())
    service.config = type(service.config)(**{**service.config.__dict__, "data_dir": tmp_path, "min_free_bytes": 10**9})
    service._disk_usage = lambda _p: Usage(10**10, 10**10 - 10**6, 10**6)
    sale_id = service.start_sale(action_id=str(uuid.uuid4()))
    service.enter(sale_id, sample_customer(random.Random(5), START), action_id=str(uuid.uuid4()))
    service.consent(sale_id, {"personal_data": "v1", "policy_terms": "v1"}, action_id=str(uuid.uuid4()))
    preflight = service.preflight(sale_id)
    assert not preflight.ready and not preflight.can_apply
    assert ("disk", "На диске киоска мало места: продажа невозможна") in preflight.problems
    assert rig.printer.jobs == [] if isinstance(rig.printer, RecordingPrinter) else True
