"""The out-of-service screen without Kivy: when it rechecks, when it exits (never under a technician),
how its stay backs off over refusals in a row, and which backups it offers."""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.journal.guard import JournalRefusedError, Refusal
from kiosk.sale.reconcile import server_state
from kiosk.sale.states import SaleState
from ui.presenters.out_of_service import CUSTOMER_TITLE, OutOfService, Step, backup_files, clear_refusals, stay_seconds

REFUSED = JournalRefusedError(Refusal.JOURNAL_MISSING, "Файла журнала нет", "journal missing")


def test_the_screen_rechecks_when_due_and_a_passing_check_restarts_the_kiosk_once_the_technician_left() -> None:
    checks: list[int] = []
    state = OutOfService(REFUSED, lambda: checks.append(1) or None, stay=600, recheck_every=30, started=0.0)
    assert state.title == CUSTOMER_TITLE and "деньги не списываются" in state.message
    assert state.tick(10, technician_open=False) is Step.WAIT
    assert state.tick(31, technician_open=False) is Step.RECHECK
    assert state.tick(32, technician_open=False) is Step.WAIT
    state.checked(None)
    assert state.tick(33, technician_open=True) is Step.WAIT  # never while a technician works
    assert state.tick(34, technician_open=False) is Step.EXIT


def test_the_screen_exits_when_its_time_is_up_and_a_new_reason_replaces_the_old() -> None:
    state = OutOfService(REFUSED, None, stay=120, started=0.0)
    other = JournalRefusedError(Refusal.DISK_FULL, "Диск заполнен", "disk full")
    state.checked(other)
    assert state.refusal is other and not state.restart_requested
    assert state.tick(119, technician_open=False) is Step.WAIT
    assert state.tick(120, technician_open=False) is Step.EXIT


def test_the_stay_doubles_with_each_refusal_in_a_row_up_to_the_maximum_and_resets_on_a_good_start(
    tmp_path: Path,
) -> None:
    runtime = str(tmp_path)
    stays = [stay_seconds(2, 30, runtime_dir=runtime) for _ in range(6)]
    assert stays == [120, 240, 480, 960, 1800, 1800]
    clear_refusals(runtime)
    assert stay_seconds(2, 30, runtime_dir=runtime) == 120
    assert stay_seconds(2, 30, runtime_dir=None) == 120  # outside systemd: no count, no back-off


def test_backups_are_offered_newest_first_from_every_place(tmp_path: Path) -> None:
    usb, folder = tmp_path / "usb", tmp_path / "backups"
    usb.mkdir()
    folder.mkdir()
    old = folder / "journal-KIOSK-0001-20261101-0900.db"
    new = usb / "journal-KIOSK-0001-20261201-0900.db"
    for path, when in ((old, 1_700_000_000), (new, 1_800_000_000)):
        path.write_bytes(b"x")
        os.utime(path, (when, when))
    (usb / "photo.jpg").write_bytes(b"x")
    assert [f.path for f in backup_files([usb, folder, tmp_path / "absent"])] == [new, old]


def test_the_server_events_of_a_sale_tell_the_state_it_ended_in() -> None:
    def told(*kinds: str) -> SaleState | None:
        return server_state([(kind, {}) for kind in kinds])

    assert told("payment.authorised", "policy.registered", "payment.committed", "sale.completed") is SaleState.COMPLETED
    assert told("payment.authorised", "payment.reversed", "policy.cancel_requested") is SaleState.REVERSED
    assert told("payment.authorised", "policy.registered") is SaleState.FLAGGED  # the end is unknown
    assert told("application.submitted") is SaleState.APPLICATION_ISSUED
    assert told("payment.declined", "sale.abandoned") is SaleState.ABANDONED
    assert server_state([("sale.flagged", {}), ("sale.resolved", {"resolution": "completed"})]) is SaleState.COMPLETED
    assert told("device.health") is None
