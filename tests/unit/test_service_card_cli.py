"""``osago-kiosk service-card``: PIN hashes for the config and card keys for personalisation."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.service_access import PinHash, derive_card_key


def test_pin_hash_prints_a_hash_that_verifies_the_pin_and_not_the_pin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("4826\n"))

    assert main(["service-card", "pin-hash", "--stdin"]) == 0

    out = capsys.readouterr().out.strip()
    assert PinHash.parse(out).verify("4826") and "4826" not in out


def test_pin_hash_refuses_a_pin_that_is_not_4_to_12_digits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("12\n"))

    assert main(["service-card", "pin-hash", "--stdin"]) == 2
    assert "4 to 12 digits" in capsys.readouterr().err


def test_card_key_is_derived_from_the_master_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "service-card.key"
    key_file.write_text("11" * 32 + "\n")
    os.chmod(key_file, 0o600)

    assert main(["service-card", "card-key", "TECH-0042", "--master-key", str(key_file)]) == 0

    assert capsys.readouterr().out.strip() == derive_card_key(bytes([0x11]) * 32, "TECH-0042").hex()
