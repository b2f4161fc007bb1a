"""A headless sale whose policy is printed by emupos, an independent ESC/POS emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printer.profiles import load_profile
from tests.integration.emupos_harness import Emupos, zbarimg
from tests.support.kiosk_processes import run_kiosk, write_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Emupos.available(), reason="emupos needs Python >= 3.13 in .venv-emupos (scripts/setup)"),
]


@pytest.fixture
def emupos(tmp_path: Path) -> Iterator[Emupos]:
    workdir = tmp_path / "emupos"
    workdir.mkdir()
    emulator = Emupos(workdir, [load_profile("epson-80")]).start()
    yield emulator
    emulator.stop()


def test_demo_sale_prints_a_checkable_policy_on_emupos(tmp_path: Path, emupos: Emupos, artifacts_dir: Path) -> None:
    config = write_config(tmp_path)
    device = emupos.devices["epson-80"]

    proc = run_kiosk(
        config, "demo", "--sales", "1", "--printer-url", device.url, "--terminal-url", "sim://terminal?think=0"
    )
    sales = json.loads(run_kiosk(config, "journal", "--json").stdout)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [s["state"] for s in sales] == ["completed"]
    emupos.wait_receipt("epson-80", 2)  # the policy, then the claims memo
    texts = {str(r["id"]): emupos.text("epson-80", str(r["id"])) for r in emupos.receipts("epson-80")}
    policy_id, text = next((i, t) for i, t in texts.items() if "ПОЛИС ОСАГО" in t)
    assert any("ПАМЯТКА" in t for t in texts.values())
    series, number = sales[0]["policy_number"].split(" ")
    assert f"Серия {series} № {number}" in text
    png = artifacts_dir / "demo-policy-emupos.png"
    png.write_bytes(emupos.image("epson-80", policy_id))
    assert any(number in code for code in zbarimg(png)), "the QR must carry the policy number"
