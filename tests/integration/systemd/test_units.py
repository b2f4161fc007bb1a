"""The unit files pass ``systemd-analyze verify`` with no output at all, and a typo is caught."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.unit_lint import lint_units

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"),
]

UNIT_DIR = Path(__file__).resolve().parents[3] / "systemd"
UNITS = sorted(p for p in UNIT_DIR.iterdir() if p.suffix in (".service", ".timer"))


def test_every_unit_we_ship_is_checked() -> None:
    assert {p.name for p in UNITS} == {
        "osago-kiosk.service",
        "osago-kiosk-sync.service",
        "osago-kiosk-sync.timer",
        "osago-server.service",
    }


@pytest.mark.parametrize("unit", UNITS, ids=[p.name for p in UNITS])
def test_unit_verifies_without_a_single_warning(unit: Path, tmp_path: Path) -> None:
    # The whole set is in the root (the timer needs its service); the verdict is about this unit.
    others = [p for p in UNITS if p != unit]
    result = lint_units([unit, *others], tmp_path)

    assert result.ok, result.output


def test_a_misspelt_key_fails_the_check(tmp_path: Path) -> None:
    broken = tmp_path / "osago-kiosk.service"
    text = (UNIT_DIR / "osago-kiosk.service").read_text(encoding="utf-8")
    broken.write_text(text.replace("Restart=always", "Restrat=always"), encoding="utf-8")

    result = lint_units([broken], tmp_path / "lint")

    assert result.returncode == 0, "systemd-analyze itself lets typos through; the wrapper must not"
    assert not result.ok
    assert "Restrat" in result.output


@pytest.mark.parametrize("unit", UNITS, ids=[p.name for p in UNITS])
def test_comments_stand_on_their_own_lines(unit: Path) -> None:
    # systemd has no inline comments: "Restart=always # why" would make "# why" part of the value.
    for number, line in enumerate(unit.read_text(encoding="utf-8").splitlines(), 1):
        if line and not line.lstrip().startswith(("#", ";")):
            assert not re.search(r"\s[#;]", line), f"{unit.name}:{number}: inline comment: {line}"


def test_the_kiosk_unit_keeps_the_promises_of_the_issue() -> None:
    text = (UNIT_DIR / "osago-kiosk.service").read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))

    assert settings["Type"] == "notify"
    assert settings["Restart"] == "always"
    assert settings["WatchdogSec"] and settings["StartLimitBurst"] and settings["StartLimitIntervalSec"]
    assert settings["User"] == "osago-kiosk"
    assert {"dialout", "lp"} <= set(settings["SupplementaryGroups"].split())
    # Options that would hide /dev/ttyUSB*, USB printers or the display from the UI:
    assert "PrivateDevices" not in settings and "ProtectClock" not in settings and "DeviceAllow" not in settings
