"""``osago-kiosk terminal`` and ``osago-kiosk simulate terminal`` as a technician runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def test_pay_runs_the_whole_dialogue_and_prints_json(tmp_path: Path) -> None:
    url = f"sim://terminal?think=0.1&ledger={tmp_path / 'ledger.jsonl'}"
    result = run_cli("terminal", "--url", url, "pay", "1234.56", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = {"approved", "amount", "result_code", "receipt_no", "trace", "masked_pan", "auth_code"}
    assert expected | {"terminal_id", "receipt_lines"} <= data.keys()
    assert (data["approved"], data["amount"], data["result_code"]) == (True, "1234.56", "00")
    assert "Вставьте или приложите карту" in result.stderr
    assert [json.loads(line)["event"] for line in (tmp_path / "ledger.jsonl").read_text().splitlines()] == [
        "authorised",
        "committed",
    ]


@pytest.mark.parametrize("amount", ["12,50", "-5", "0", "1.234", "abc", "1e3"])
def test_a_bad_amount_exits_2_with_a_clear_message(amount: str) -> None:
    result = run_cli("terminal", "--url", "sim://terminal", "pay", amount)
    assert result.returncode == 2
    assert "1234.56" in result.stderr and result.stdout == ""


def test_the_simulator_command_announces_its_pty_and_link_for_other_tools(tmp_path: Path) -> None:
    link = tmp_path / "terminal"
    sim = subprocess.Popen(
        [
            *CLI,
            "simulate",
            "terminal",
            "--pty",
            "--link",
            str(link),
            "--think-time",
            "0.1",
            "--scenario",
            "decline",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        path = sim.stdout.readline().strip()
        assert link.resolve() == Path(path)
        status = run_cli("terminal", "--url", f"zvt://{link}", "status", "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["ready"] is True
        declined = run_cli("terminal", "--url", f"zvt://{link}", "--json", "pay", "10.00")
        assert declined.returncode == 1
        assert json.loads(declined.stdout)["result_code"] == "05"
    finally:
        sim.terminate()
        sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()
    assert not link.exists()


def test_unreachable_terminal_exits_3() -> None:
    result = run_cli("terminal", "--url", "zvt:///dev/does-not-exist", "status")
    assert result.returncode == 3
    assert "недоступен" in result.stderr
