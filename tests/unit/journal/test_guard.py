"""The journal guard on real files in a temporary directory: the first start makes a journal; every way a
journal can be missing, damaged, foreign, rolled back or behind the server is refused with its code;
the crash window between a commit and its sidecar write is not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.journal.db import open_journal
from kiosk.journal.guard import JournalGuard, JournalRefusedError, Refusal, StoredEvent, header_problem
from kiosk.journal.models import JournalEntry, OutboxEvent
from kiosk.journal.sidecar import Sidecar, read_sidecar
from tests.support.journal_damage import damage

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
Usage = namedtuple("Usage", "total used free")


def guard(tmp_path: Path, **kw: object) -> JournalGuard:
    options: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "journal_file": tmp_path / "data" / "journal.db",
        "sidecar_file": tmp_path / "data" / "journal.sidecar",
        "kiosk_id": "KIOSK-0001",
        "min_free_bytes": 1024,
    }
    options.update(kw)
    return JournalGuard(**options)  # type: ignore[arg-type]


def installed(tmp_path: Path, writes: int = 3) -> JournalGuard:
    """A kiosk that has made its journal and written to it a few times (then stopped)."""
    g = guard(tmp_path)
    guarded = g.open()
    assert guarded is not None and guarded.created
    for index in range(writes):
        with guarded.journal.transaction() as session:
            session.add(JournalEntry(at=NOW, actor="test", action=f"write {index}"))
    guarded.journal.close()
    return g


def refusal(g: JournalGuard) -> Refusal:
    with pytest.raises(JournalRefusedError) as caught:
        g.open()
    assert caught.value.reason and caught.value.remedy and caught.value.detail
    return caught.value.code


def test_the_first_start_makes_a_journal_and_its_sidecar_with_the_same_identity_and_sequence(tmp_path: Path) -> None:
    g = installed(tmp_path, writes=3)
    record = read_sidecar(g.sidecar_file)
    guarded = g.open()
    assert guarded is not None and not guarded.created
    assert (record.seq, record.origin, record.kiosk_id) == (4, "install", "KIOSK-0001")
    guarded.journal.close()


def test_every_committed_write_bumps_the_sequence_and_the_sidecar_follows(tmp_path: Path) -> None:
    g = installed(tmp_path, writes=0)
    guarded = g.open()
    assert guarded is not None
    before = read_sidecar(g.sidecar_file).seq
    with guarded.journal.transaction() as session:
        session.add(JournalEntry(at=NOW, actor="t", action="a"))
        session.add(JournalEntry(at=NOW, actor="t", action="b"))
    with guarded.journal.transaction() as session:  # a read-only transaction bumps nothing
        session.get(JournalEntry, 1)
    assert read_sidecar(g.sidecar_file).seq == before + 1
    guarded.journal.close()


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("delete", Refusal.JOURNAL_MISSING),
        ("truncate", Refusal.JOURNAL_EMPTY),
        ("random", Refusal.JOURNAL_CORRUPT),
        ("half", Refusal.JOURNAL_CORRUPT),
        ("header", Refusal.JOURNAL_CORRUPT),
    ],
)
def test_a_damaged_journal_is_refused_and_never_replaced(tmp_path: Path, how: str, code: Refusal) -> None:
    g = installed(tmp_path, writes=30)
    damage(g.journal_file, how)
    size = g.journal_file.stat().st_size if g.journal_file.exists() else None
    assert refusal(g) is code
    assert (g.journal_file.stat().st_size if g.journal_file.exists() else None) == size


def test_a_journal_older_than_its_sidecar_is_refused_but_one_commit_ahead_is_the_crash_window(tmp_path: Path) -> None:
    g = installed(tmp_path, writes=2)
    old = tmp_path / "old.db"
    shutil.copy2(g.journal_file, old)
    guarded = g.open()
    assert guarded is not None
    with guarded.journal.transaction() as session:
        session.add(JournalEntry(at=NOW, actor="t", action="later"))
    guarded.journal.close()
    shutil.copy2(old, g.journal_file)
    assert refusal(g) is Refusal.JOURNAL_BEHIND

    h = installed(tmp_path / "second", writes=2)
    seq = read_sidecar(h.sidecar_file).seq
    Sidecar(h.sidecar_file).create(dataclasses.replace(read_sidecar(h.sidecar_file), seq=seq - 1))  # commit, then crash
    guarded = h.open()
    assert guarded is not None and read_sidecar(h.sidecar_file).seq == seq  # caught up
    guarded.journal.close()


def test_a_sidecar_far_behind_is_caught_up_since_the_journal_lost_nothing(tmp_path: Path) -> None:
    g = installed(tmp_path, writes=5)
    Sidecar(g.sidecar_file).create(dataclasses.replace(read_sidecar(g.sidecar_file), seq=1))
    guarded = g.open()
    assert guarded is not None and read_sidecar(g.sidecar_file).seq == 6
    guarded.journal.close()


def test_another_journal_or_another_kiosks_journal_is_refused(tmp_path: Path) -> None:
    g = installed(tmp_path)
    record = read_sidecar(g.sidecar_file)
    Sidecar(g.sidecar_file).create(dataclasses.replace(record, journal_id="another"))
    assert refusal(g) is Refusal.NOT_THIS_JOURNAL
    Sidecar(g.sidecar_file).create(record)
    assert refusal(guard(tmp_path, kiosk_id="KIOSK-0002")) is Refusal.OTHER_KIOSK


def test_a_missing_or_unreadable_sidecar_is_refused(tmp_path: Path) -> None:
    g = installed(tmp_path)
    data = g.sidecar_file.read_bytes()
    g.sidecar_file.unlink()
    assert refusal(g) is Refusal.SIDECAR_MISSING
    g.sidecar_file.write_bytes(b"\x00" * len(data))
    assert refusal(g) is Refusal.SIDECAR_UNREADABLE


def test_no_journal_and_no_sidecar_on_a_kiosk_that_has_run_is_refused(tmp_path: Path) -> None:
    evidence = tmp_path / "data" / "keys" / "personal.key"
    evidence.parent.mkdir(parents=True)
    evidence.write_text("key\n")
    assert refusal(guard(tmp_path, evidence=[evidence])) is Refusal.ALREADY_SOLD
    assert not (tmp_path / "data" / "journal.db").exists()


def test_no_journal_while_the_server_holds_events_of_this_kiosk_is_refused(tmp_path: Path) -> None:
    event = StoredEvent("e1", "sale.completed", "s1", NOW, {})

    def server(_since: dt.datetime | None, _limit: int) -> Sequence[StoredEvent]:
        return [event]

    assert refusal(guard(tmp_path, server_events=server)) is Refusal.ALREADY_SOLD


def test_a_journal_lacking_events_the_server_holds_is_refused_and_a_silent_server_is_skipped(tmp_path: Path) -> None:
    g = installed(tmp_path)
    guarded = g.open()
    assert guarded is not None
    with guarded.journal.transaction() as session:
        session.add(OutboxEvent(event_id="mine", kind="sale.completed", payload={}, created_at=NOW, acked_at=NOW,
                                attempts=0))  # fmt: skip
    guarded.journal.close()
    held = [StoredEvent("mine", "sale.completed", None, NOW, {}), StoredEvent("lost", "sale.completed", None, NOW, {})]
    ahead = guard(tmp_path, server_events=lambda _s, _l: held)
    assert refusal(ahead) is Refusal.SERVER_AHEAD
    level = guard(tmp_path, server_events=lambda _s, _l: held[:1])
    silent = guard(tmp_path, server_events=lambda _s, _l: None)
    for passing in (level, silent):
        opened = passing.open()
        assert opened is not None
        opened.journal.close()


def test_too_little_free_space_or_a_data_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    installed(tmp_path)
    full = guard(tmp_path, min_free_bytes=10**9, disk_usage=lambda _p: Usage(10**10, 10**10, 10**6))
    assert refusal(full) is Refusal.DISK_FULL
    (tmp_path / "file").write_text("x")
    assert refusal(guard(tmp_path / "file" / "..", data_dir=tmp_path / "file")) is Refusal.DATA_DIR_UNUSABLE


def test_a_journal_from_before_identities_is_adopted_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    legacy = open_journal(tmp_path / "data" / "journal.db")
    with legacy.transaction() as session:
        session.add(JournalEntry(at=NOW, actor="t", action="old sale"))
    legacy.close()
    guarded = guard(tmp_path).open()
    assert (
        guarded is not None
        and guarded.adopted
        and read_sidecar(tmp_path / "data" / "journal.sidecar").origin == "adopt"
    )
    with guarded.journal.session() as session:
        assert session.get(JournalEntry, 1) is not None
    guarded.journal.close()


def test_listing_on_a_fresh_installation_creates_nothing(tmp_path: Path) -> None:
    assert guard(tmp_path).open(create=False) is None
    assert not (tmp_path / "data").exists()


@given(st.binary(min_size=100, max_size=100))
def test_the_header_check_takes_any_bytes_and_refuses_what_is_not_an_sqlite_header(header: bytes) -> None:
    problem = header_problem(header)
    assert problem is None or problem.startswith(("повреждён", "файл"))
    if not header.startswith(b"SQLite format 3\0"):
        assert problem is not None
