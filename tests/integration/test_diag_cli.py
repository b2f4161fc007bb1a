"""``osago-kiosk diag``: exit 0 when the kiosk can sell, 1 with the reasons otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.kiosk_processes import run_kiosk, write_config

pytestmark = pytest.mark.integration


def test_diag_on_healthy_simulators_says_the_kiosk_can_sell(tmp_path: Path) -> None:
    proc = run_kiosk(write_config(tmp_path), "diag", "--json")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["can_sell"] is True and report["reasons"] == []
    assert {tile["light"] for tile in report["tiles"]} <= {"green", "yellow"}


def test_diag_with_paper_out_and_no_insurer_exits_1_with_both_reasons(tmp_path: Path) -> None:
    proc = run_kiosk(
        write_config(tmp_path, insurer_url="sim://insurer?fault=unavailable"),
        "diag",
        "--printer-url",
        "sim://printer?fault=paper-out",
    )

    assert proc.returncode == 1
    assert "Продажа невозможна" in proc.stdout
    assert "Нет бумаги" in proc.stdout and "Нет связи" in proc.stdout
