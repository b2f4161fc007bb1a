"""The technician's checks and actions, on fakes."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
from sqlalchemy import select

from drivers.payment import Fate
from drivers.printer.recorder import NEAR_END, PAPER_OUT
from kiosk.bootstrap import journal_audit
from kiosk.diagnostics import Diagnostics, Light, ServerStatus, backup_targets, verdict
from kiosk.insurer.http import ServerUnreachableError
from kiosk.journal.models import JournalEntry, OutboxEvent
from kiosk.sale.service import SaleError
from kiosk.sale.states import SaleState
from kiosk.service_access import AuditEvent, AuditKind
from kiosk.sync import probe_server
from tests.unit.sale.conftest import MOSCOW, Rig
from tests.unit.sale.test_service import ready_sale

Usage = namedtuple("Usage", "total used free")
ACTOR = "TECH-0042"


def diag(rig: Rig, tmp_path: Path, *, free: int = 10 * 1024**3, server: ServerStatus | None = None) -> Diagnostics:
    return Diagnostics(
        kiosk_id="KIOSK-TEST", journal=rig.journal, terminal=rig.terminal, printer=rig.printer, insurer=rig.insurer,
        tariffs=rig.tariffs, data_dir=tmp_path, log_path=tmp_path / "kiosk.log", clock=rig.service.clock, zone=MOSCOW,
        disk_usage=lambda _p: Usage(50 * 1024**3, 0, free), server_status=(lambda: server) if server else None,
    )  # fmt: skip


def lights(d: Diagnostics) -> dict[str, Light]:
    return {tile.key: tile.light for tile in d.tiles()}


def test_a_healthy_kiosk_can_sell(rig: Rig, tmp_path: Path) -> None:
    tiles = diag(rig, tmp_path).tiles()

    assert verdict(tiles) == (True, [])
    assert {t.key for t in tiles} == {"printer", "terminal", "cardreader", "server", "disk", "database", "tariffs"}


@pytest.mark.parametrize(
    ("breakage", "key"),
    [
        (lambda rig: setattr(rig.printer, "current", PAPER_OUT), "printer"),
        (lambda rig: setattr(rig.terminal, "ready", False), "terminal"),
        (lambda rig: rig.insurer.faults.add("unavailable"), "server"),
    ],
    ids=["paper-out", "terminal-not-ready", "insurer-unreachable"],
)
def test_a_blocking_fault_stops_sales_and_says_why(rig: Rig, tmp_path: Path, breakage: object, key: str) -> None:
    breakage(rig)  # type: ignore[operator]

    can_sell, reasons = verdict(diag(rig, tmp_path).tiles())

    assert not can_sell
    assert len(reasons) == 1 and reasons[0]


def test_paper_near_its_end_is_a_warning_not_a_stop(rig: Rig, tmp_path: Path) -> None:
    rig.printer.current = NEAR_END
    d = diag(rig, tmp_path)

    assert lights(d)["printer"] is Light.YELLOW
    assert verdict(d.tiles())[0]


def test_a_full_disk_stops_sales(rig: Rig, tmp_path: Path) -> None:
    assert not verdict(diag(rig, tmp_path, free=100 * 1024**2).tiles())[0]


def test_a_clock_far_from_the_servers_is_a_warning(rig: Rig, tmp_path: Path) -> None:
    d = diag(rig, tmp_path, server=ServerStatus(True, clock_skew_seconds=-300))

    assert lights(d)["server"] is Light.YELLOW


def test_a_flagged_sale_shows_on_the_database_tile(rig: Rig, tmp_path: Path) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))

    tile = next(t for t in diag(rig, tmp_path).tiles() if t.key == "database")

    assert tile.light is Light.YELLOW and sale_id in tile.details["flagged"]


def test_the_technician_resolves_a_flagged_sale_and_the_decision_is_journaled(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))

    outcome = rig.service.resolve_flagged(sale_id, SaleState.REVERSED, actor=ACTOR, note="в сверке итогов платежа нет")

    assert outcome.state is SaleState.REVERSED
    assert rig.insurer.cancelled  # its registered policy is annulled
    with rig.journal.session() as session:
        entry = session.scalars(select(JournalEntry)).one()
        assert (entry.actor, entry.action) == (ACTOR, "resolve_flagged")


def test_a_resolution_needs_a_reason(rig: Rig) -> None:
    sale_id = ready_sale(rig)
    rig.terminal.script_completions(Fate.UNKNOWN)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))

    with pytest.raises(SaleError):
        rig.service.resolve_flagged(sale_id, SaleState.COMPLETED, actor=ACTOR, note=" ")


def test_test_page_and_terminal_diagnosis_are_journaled_with_the_card_id(rig: Rig, tmp_path: Path) -> None:
    d = diag(rig, tmp_path)

    assert d.test_page(ACTOR).ok
    assert d.terminal_diagnosis(ACTOR).ok

    with rig.journal.session() as session:
        assert [(e.actor, e.action) for e in session.scalars(select(JournalEntry))] == [
            (ACTOR, "test_page"),
            (ACTOR, "terminal_diagnosis"),
        ]
    assert rig.printer.jobs[-1].document.kind == "test"


def test_end_of_day_prints_the_totals_and_reports_them_to_the_server(rig: Rig, tmp_path: Path) -> None:
    sale_id = ready_sale(rig)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))

    totals, printed = diag(rig, tmp_path).end_of_day(ACTOR)

    assert totals.count == 1
    assert printed is not None and printed.ok
    with rig.journal.session() as session:
        assert "terminal.end_of_day" in session.scalars(select(OutboxEvent.kind)).all()


def test_health_report_goes_to_the_outbox(rig: Rig, tmp_path: Path) -> None:
    rig.printer.current = NEAR_END

    diag(rig, tmp_path).report_health()

    with rig.journal.session() as session:
        event = session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "device.health")).one()
    assert event.payload["paper_low"] is True and event.payload["can_sell"] is True


def test_backup_is_a_verified_copy_of_the_journal(rig: Rig, tmp_path: Path) -> None:
    sale_id = ready_sale(rig)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))

    result = diag(rig, tmp_path).backup(tmp_path / "usb", ACTOR)

    assert result.verified and result.sales == 1 and result.integrity == "ok"
    with sqlite3.connect(result.path) as copy:
        assert copy.execute("SELECT state FROM sales").fetchone()[0] == "completed"


def test_a_backup_copy_is_the_owners_only_whatever_the_umask(rig: Rig, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        result = diag(rig, tmp_path).backup(tmp_path / "usb", ACTOR)
    finally:
        os.umask(previous)

    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "usb").stat().st_mode) == 0o700


def test_last_log_lines_and_sales_are_there_for_the_technician(rig: Rig, tmp_path: Path) -> None:
    (tmp_path / "kiosk.log").write_text("".join(f"line {i}\n" for i in range(300)), encoding="utf-8")
    sale_id = ready_sale(rig)
    rig.service.pay(sale_id, action_id=str(uuid.uuid4()))
    d = diag(rig, tmp_path)

    assert d.last_log_lines()[-1] == "line 299" and len(d.last_log_lines()) == 200
    assert [row["state"] for row in d.last_sales()] == ["completed"]


def test_backup_targets_are_the_media_mounted_under_the_roots_then_the_fallback(tmp_path: Path) -> None:
    media = tmp_path / "media"
    for name in ("USB STICK", "sdc1"):
        (media / name).mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text(
        f"/dev/sda1 / ext4 rw 0 0\n"
        f"tmpfs {media} tmpfs rw 0 0\n"
        f"/dev/sdb1 {media}/USB\\040STICK vfat rw 0 0\n"
        f"/dev/sdc1 {media}/sdc1 vfat rw 0 0\n"
        f"/dev/sdd1 {tmp_path}/elsewhere vfat rw 0 0\n"
    )

    targets = backup_targets(
        [media], tmp_path / "backups", mounts_file=mounts, disk_usage=lambda _p: Usage(1, 0, 2**30)
    )

    assert [t.path for t in targets] == [media / "USB STICK", media / "sdc1", tmp_path / "backups"]
    assert [t.removable for t in targets] == [True, True, False]
    assert targets[0].label == f"USB-носитель: {media / 'USB STICK'}, свободно 1024 МБ"


class FakeStatusClient:
    """Answers GET /api/v1/status with a server clock ``behind`` seconds behind the kiosk."""

    def __init__(self, behind: float, fail: Exception | None = None) -> None:
        self.behind = behind
        self.fail = fail

    def request(self, method: str, path: str, **_kw: object) -> object:
        if self.fail is not None:
            raise self.fail
        assert (method, path) == ("GET", "/api/v1/status")
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.behind)

    def json(self, response: object) -> dict[str, str]:
        assert isinstance(response, dt.datetime)
        return {"server_time": response.isoformat(), "kiosk_id": "KIOSK-TEST"}


def test_the_server_probe_measures_the_clock_skew_and_reports_an_unreachable_server() -> None:
    skewed = probe_server(FakeStatusClient(120))  # type: ignore[arg-type]
    down = probe_server(FakeStatusClient(0, ServerUnreachableError("connection refused")))  # type: ignore[arg-type]

    assert skewed.reachable and skewed.clock_skew_seconds is not None and 119 <= skewed.clock_skew_seconds <= 121
    assert not down.reachable and "connection refused" in down.detail


def test_an_unreachable_or_unconfigured_server_is_a_warning_not_a_stop(rig: Rig, tmp_path: Path) -> None:
    down = diag(rig, tmp_path, server=ServerStatus(False, None, "connection refused")).tiles()
    unset = diag(rig, tmp_path, server=ServerStatus(False, None, "нет ключа", configured=False)).tiles()

    for tiles, text in ((down, "не отвечает"), (unset, "не настроен")):
        (tile,) = [t for t in tiles if t.key == "server"]
        assert tile.light is Light.YELLOW and text in tile.summary and verdict(tiles)[0]


def test_service_card_events_are_journaled_and_only_a_verified_card_is_an_actor(rig: Rig) -> None:
    record = journal_audit(rig.journal)
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    record(AuditEvent(AuditKind.CARD_REFUSED, at, ACTOR, False, "bad_response"))
    record(AuditEvent(AuditKind.SESSION_OPENED, at, ACTOR, True))

    with rig.journal.session() as session:
        entries = [
            (e.actor, e.action, e.detail) for e in session.scalars(select(JournalEntry).order_by(JournalEntry.id))
        ]
    assert [(a, b) for a, b, _ in entries] == [
        ("unverified", "service_card.card_refused"),
        (ACTOR, "service_card.session_opened"),
    ]
    assert entries[0][2]["card_id"] == ACTOR and entries[0][2]["verified"] is False


def test_the_journal_tile_is_red_while_an_outcome_waits_in_the_sidecar_or_a_restore_waits_for_reconciliation(
    rig: Rig, tmp_path: Path
) -> None:
    from kiosk.journal.sidecar import Note, Sidecar, SidecarRecord

    sidecar = Sidecar(tmp_path / "journal.sidecar")
    sidecar.create(SidecarRecord(journal_id="j", kiosk_id="KIOSK-TEST", seq=1))
    rig.journal.sidecar = sidecar
    sidecar.add_note(Note("0f1e2d3c-sale", "completed", "committed", "8432.17", "000042", "0007"))
    tile = next(t for t in diag(rig, tmp_path).tiles() if t.key == "database")
    assert tile.light is Light.RED and tile.blocking and "не записал исход продаж: 1" in tile.summary
    assert "8\xa0432,17\xa0руб., чек 0007 — деньги списаны, полис выдан" in tile.details["unrecorded"][0]
    sidecar.drop_notes({"0f1e2d3c-sale"})
    sidecar.update(lambda r: r.__class__(**{**r.__dict__, "state": "reconcile"}))
    tile = next(t for t in diag(rig, tmp_path).tiles() if t.key == "database")
    assert tile.light is Light.RED and "не сверен" in tile.summary


def test_a_refused_journal_gives_the_technician_a_red_journal_tile_with_the_remedy_and_the_disk(tmp_path: Path) -> None:
    from kiosk.diagnostics import refused_tiles
    from kiosk.journal.guard import JournalRefusedError, Refusal

    refusal = JournalRefusedError(Refusal.JOURNAL_BEHIND, "В журнале нет последних записей", "behind")
    tiles = refused_tiles(refusal, tmp_path, journal_file=tmp_path / "journal.db",
                          sidecar_file=tmp_path / "journal.sidecar", disk_usage=lambda _p: Usage(10**10, 0, 10**10))  # fmt: skip
    assert [(t.key, t.light) for t in tiles] == [("database", Light.RED), ("disk", Light.GREEN)]
    assert tiles[0].summary == "В журнале нет последних записей" and "из копии" in tiles[0].details["remedy"]
    assert verdict(tiles)[0] is False
