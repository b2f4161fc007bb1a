"""The journal's sidecar: two checksummed slots, the newest valid one wins, a torn write loses nothing,
counters never go back, and the reader takes any bytes without raising (hypothesis)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.journal.sidecar import (
    SLOT,
    Note,
    Sidecar,
    SidecarError,
    SidecarRecord,
    decode_slot,
    encode_slot,
    read_sidecar,
)

RECORD = SidecarRecord(journal_id="0b7c3f1e-0000-4000-8000-000000000001", kiosk_id="KIOSK-0001", seq=12, acked=7)

texts = st.text(st.characters(codec="ascii", exclude_categories=("Cs",)), max_size=40)
records = st.builds(
    SidecarRecord,
    journal_id=texts,
    kiosk_id=texts,
    seq=st.integers(0, 2**62),
    acked=st.integers(0, 2**62),
    state=st.sampled_from(["ok", "reconcile"]),
    origin=st.sampled_from(["install", "init", "restore", "adopt"]),
    created_at=texts,
    notes=st.lists(
        st.builds(
            Note,
            sale_id=texts.filter(bool),
            state=texts,
            money=st.sampled_from(["committed", "reversed"]),
            amount=st.none() | st.just("123.45"),
            trace=st.none() | texts.filter(bool),
        ),
        max_size=3,
    ).map(tuple),
    gen=st.integers(0, 2**62),
)


@given(st.binary(max_size=3 * SLOT))
@settings(max_examples=400)
def test_the_slot_reader_never_raises_on_any_bytes(raw: bytes) -> None:
    assert decode_slot(raw) is None or isinstance(decode_slot(raw), SidecarRecord)


@given(records)
def test_every_record_comes_back_from_its_slot_exactly(record: SidecarRecord) -> None:
    slot = encode_slot(record)
    assert len(slot) == SLOT
    assert decode_slot(slot) == record


@given(records, st.integers(0, SLOT - 1), st.integers(1, 255))
def test_a_changed_byte_is_refused_or_changes_nothing(record: SidecarRecord, where: int, flip: int) -> None:
    slot = bytearray(encode_slot(record))
    slot[where] ^= flip
    assert decode_slot(bytes(slot)) in (None, record)


def test_a_slot_whose_check_does_not_match_is_refused() -> None:
    slot = encode_slot(RECORD).replace(b'"seq":12', b'"seq":99')
    assert decode_slot(slot) is None


def test_an_update_writes_the_other_slot_so_a_torn_write_keeps_the_previous_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.sidecar"
    sidecar = Sidecar(path)
    sidecar.create(RECORD)
    sidecar.committed(13)
    assert read_sidecar(path).seq == 13
    data = bytearray(path.read_bytes())
    newest = next(i for i in range(2) if decode_slot(bytes(data[i * SLOT : (i + 1) * SLOT])) == read_sidecar(path))
    data[newest * SLOT + 10 : newest * SLOT + 200] = b"\0" * 190  # the power went mid-write
    path.write_bytes(bytes(data))
    assert read_sidecar(path).seq == 12


def test_counters_never_go_back_when_processes_update_out_of_order(tmp_path: Path) -> None:
    path = tmp_path / "journal.sidecar"
    Sidecar(path).create(RECORD)
    ui, sync = Sidecar(path), Sidecar(path)
    ui.committed(20)
    sync.committed(19)  # a slower process reports an older commit afterwards
    sync.acknowledged(9)
    ui.acknowledged(8)
    record = read_sidecar(path)
    assert (record.seq, record.acked) == (20, 9)


def test_notes_are_kept_and_dropped_by_sale(tmp_path: Path) -> None:
    path = tmp_path / "journal.sidecar"
    sidecar = Sidecar(path)
    sidecar.create(RECORD)
    sidecar.add_note(Note("sale-1", "completed", "committed", "100.00", "000042", "0007"))
    sidecar.add_note(Note("sale-2", "reversed", "reversed"))
    assert [n.sale_id for n in read_sidecar(path).notes] == ["sale-1", "sale-2"]
    sidecar.drop_notes({"sale-1"})
    assert [n.sale_id for n in read_sidecar(path).notes] == ["sale-2"]


def test_a_file_with_no_valid_slot_is_an_error_and_a_missing_one_is_not_found(tmp_path: Path) -> None:
    path = tmp_path / "journal.sidecar"
    with pytest.raises(FileNotFoundError):
        read_sidecar(path)
    path.write_bytes(b"\x00" * (2 * SLOT))
    with pytest.raises(SidecarError):
        read_sidecar(path)


def test_the_file_keeps_its_size_so_updates_need_no_new_disk_blocks(tmp_path: Path) -> None:
    path = tmp_path / "journal.sidecar"
    sidecar = Sidecar(path)
    sidecar.create(RECORD)
    for seq in range(13, 40):
        sidecar.update(lambda r, seq=seq: dataclasses.replace(r, seq=seq))
    assert path.stat().st_size == 2 * SLOT
    assert path.stat().st_mode & 0o777 == 0o600
