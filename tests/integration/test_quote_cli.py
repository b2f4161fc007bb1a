"""``osago-kiosk quote`` as a process: exactly the quote contract on stdout, exit codes 0 / 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def run_quote(stdin: str, *args: str) -> tuple[int, Any, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "quote", "--input", "-", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be exactly one JSON line, got: {proc.stdout!r}"
    return proc.returncode, json.loads(lines[0]), proc.stderr


def test_worked_example_file_is_quoted_from_any_working_directory() -> None:
    code, out, _ = run_quote((REPO / "examples" / "quote-moscow-limited.json").read_text(encoding="utf-8"))

    assert code == 0
    assert out["premium"] == "43686.89"
    assert out["currency"] == "RUB"
    assert set(out["coefficients"]) == {"TB", "KT", "KBM", "KVS", "KO", "KM", "KS", "KN", "KP", "KPr"}
    assert all(isinstance(v, str) for v in out["coefficients"].values())
    assert out["capped"] is False
    assert out["tariff_version"] == "7204-U"


def test_input_file_path_is_read() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "quote", "--input", str(REPO / "examples" / "quote-novosibirsk-unlimited.json")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["capped"] is True


BASE = {
    "date": "2026-12-01",
    "vehicle": {"category": "B", "power_hp": 100},
    "territory": {"region_code": "77"},
    "drivers": [{"birth_date": "1980-01-01", "licence_date": "2000-01-01", "kbm_class": "5"}],
}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (json.dumps({**BASE, "vehicle": {"category": "Z", "power_hp": 100}}), "vehicle.category"),
        (json.dumps({**BASE, "vehicle": {"category": "B", "power_hp": 0}}), "vehicle.power_hp"),
        (json.dumps({**BASE, "drivers": [{"birth_date": "2012-01-01", "licence_date": "2026-01-01", "kbm_class": "3"}]}), "drivers[0].birth_date"),
        (json.dumps({**BASE, "drivers": [{"birth_date": "2000-01-01", "licence_date": "2012-01-01", "kbm_class": "3"}]}), "drivers[0].licence_date"),
        (json.dumps({**BASE, "date": "2019-05-01"}), "date"),
        (json.dumps({**BASE, "territory": {"region_code": "99"}}), "territory.region_code"),
        ('{"date": "2026-12-01", "vehicle": ', "$"),
        ("[1, 2, 3]", "$"),
    ],
    ids=["unknown-category", "zero-power", "driver-under-16", "experience-over-age-16", "date-outside-tables",
         "territory-not-in-table", "malformed-json", "not-an-object"],
)  # fmt: skip
def test_bad_input_exits_2_with_a_russian_error_and_its_field(text: str, field: str) -> None:
    code, out, _ = run_quote(text)

    assert code == 2
    assert set(out) == {"error", "field"}
    assert out["field"] == field
    assert any("а" <= ch <= "я" for ch in out["error"].lower()), "the message is for a customer: Russian"


def test_broken_tariff_tables_exit_1_not_2(tmp_path: Path) -> None:
    tariffs = tmp_path / "tariffs"
    tariffs.mkdir()
    for table in (REPO / "config" / "tariffs").glob("*.toml"):
        (tariffs / table.name).write_text(
            table.read_text(encoding="utf-8").replace('limited = "1"', "limited = 1"), encoding="utf-8"
        )
    (tmp_path / "base_rates.toml").write_text(
        (REPO / "config" / "base_rates.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    config = tmp_path / "kiosk.toml"
    config.write_text('[tariffs]\ndir = "tariffs"\nbase_rates = "base_rates.toml"\n', encoding="utf-8")

    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "--config", str(config), "quote", "--input", "-"],
        input=json.dumps(BASE), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert proc.returncode == 1
    assert "6007-U.toml: ko.limited" in json.loads(proc.stdout)["error"]
    assert "ko.limited" in proc.stderr
