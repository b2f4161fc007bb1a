"""Byte-level snapshots of every sample document on every profile, checked by an independent parser.

The snapshot pins the exact bytes (regenerate with UPDATE_SNAPSHOTS=1 after an intended change); the
simulator's own ESC/POS parser then reads the bytes back, so a lost code page, a wrong ESC $ position
or a missing cut shows up as wrong text rather than as a changed hash.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivers.printer.compose import plain_text
from drivers.printer.profiles import available_profiles, load_profile
from drivers.printer.recorder import RecordingPrinter
from drivers.printer.simulator import JobJournal, PrinterModel
from kiosk.documents.samples import SAMPLE_KINDS, sample_document

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "printer" / "snapshots"
CASES = [(profile, kind) for profile in available_profiles() for kind in SAMPLE_KINDS]


def rendered(profile_name: str, kind: str) -> tuple[bytes, str]:
    printer = RecordingPrinter(load_profile(profile_name))
    document = sample_document(kind, printer.profile, printer_url="sim://printer")
    result = printer.print_document(document)
    assert result.ok
    return printer.jobs[0].data, plain_text(document, printer.profile)


@pytest.mark.parametrize(("profile", "kind"), CASES)
def test_document_bytes_match_the_snapshot(profile: str, kind: str) -> None:
    data, _ = rendered(profile, kind)
    path = SNAPSHOTS / f"{profile}-{kind}.bin"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {path.name} was missing and has been written; review and commit it")
    assert data == path.read_bytes(), f"{path.name} changed; if intended, regenerate with UPDATE_SNAPSHOTS=1"


@pytest.mark.parametrize(("profile", "kind"), CASES)
def test_an_independent_parser_reads_back_the_same_text(profile: str, kind: str) -> None:
    data, preview = rendered(profile, kind)
    model = PrinterModel(load_profile(profile), JobJournal(None))
    model.open_connection(1, None)
    model.receive(1, data)
    model.close_connection(1)
    (job,) = model.journal.records
    assert job["state"] == "cut"
    assert job["code_pages"] == [load_profile(profile).code_page_number]
    assert job["unknown_commands"] == []
    printed = [line.strip() for line in job["text"].splitlines() if line.strip()]
    expected = [
        line.strip()
        for line in preview.splitlines()
        if line.strip() and not line.startswith(("[QR:", "[CODE128:", "~~~"))
    ]
    assert [line for line in printed if not line.startswith(("[QR:", "[BARCODE:"))] == expected
    # Equal text also proves that no character fell back to "?" (python-escpos' unencodable mark).


@pytest.mark.parametrize("profile", available_profiles())
def test_every_reset_is_followed_by_the_profiles_code_page(profile: str) -> None:
    data, _ = rendered(profile, "policy")
    p = load_profile(profile)
    select = b"\x1bt" + bytes([p.code_page_number])
    resets = data.count(b"\x1b@")
    assert resets >= 1
    for chunk in data.split(b"\x1b@")[1:]:
        head = chunk.removeprefix(b"\x1c.") if p.kanji_off else chunk
        assert head.startswith(select)


def test_the_custom_profile_presents_the_ticket_after_the_cut() -> None:
    data, _ = rendered("custom-vkp80", "policy")
    assert data.endswith(b"\x1dV\x00\x1de\x03\x00")


def test_the_58_mm_clone_cancels_kanji_mode_and_cuts_partially() -> None:
    data, _ = rendered("clone-58", "memo")
    assert data.startswith(b"\x1b@\x1c.\x1bt;")
    assert data.endswith(b"\x1dV\x01")


def test_policy_and_memo_together_stay_under_4_kb_on_every_profile() -> None:
    for profile in available_profiles():
        total = len(rendered(profile, "policy")[0]) + len(rendered(profile, "memo")[0])
        assert total <= 4096, (profile, total)
