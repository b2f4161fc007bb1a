"""The journal damaged on disk — truncated, overwritten with random bytes, cut in half, its header
garbled, deleted with its sidecar still there — before a start and in the middle of a sale (the kiosk
killed with SIGKILL at a checkpoint, the file damaged, the kiosk started again). Every time the kiosk
refuses: exit 75, one "journal refused" log line, no traceback, no payment, and no new empty journal.
The technician restores the last backup; the kiosk reconciles it with the terminal before it sells
again, and the money reconciles: 0 charged without a policy or a flag stating it, 0 double charges.
"""

from __future__ import annotations

import hashlib
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.faults.conftest import SOAK
from tests.support.journal_damage import DAMAGES, damage
from tests.support.journal_faults import check_money, refused
from tests.support.kiosk_processes import Simulators, run_kiosk, write_config

pytestmark = pytest.mark.integration

#: where the mid-sale kill happens: after the terminal committed (the hardest case) — every step in soak mode
STEPS = (
    ["payment_started", "authorised_by_terminal", "registering", "registered_by_insurer", "printing_policy",
     "printed_policy", "confirming", "confirmed_by_terminal"]
    if SOAK
    else ["confirmed_by_terminal"]
)  # fmt: skip


def demo(config: Path, sims: Simulators, *args: str) -> int:
    proc = run_kiosk(config, "demo", "--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url, *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode


def backup(config: Path, name: str) -> Path:
    """The technician's backup (SQLite's online backup of the journal), taken while the kiosk is stopped."""
    data = config.parent / "data"
    target = config.parent / "backups" / f"journal-KIOSK-CRASH-{name}.db"
    target.parent.mkdir(exist_ok=True)
    with sqlite3.connect(data / "journal.db") as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return target


def fingerprint(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def assert_refused_everywhere(config: Path, sims: Simulators, how: str, round_no: int) -> None:
    """Every command that opens the journal refuses it, takes no money and makes no new journal.

    Outside soak mode each round tries one of the three commands in turn (every damage meets a
    refusal, every command meets a damage), which keeps the suite inside its time; soak tries all three.
    """
    journal = config.parent / "data" / "journal.db"
    before, ledger = fingerprint(journal), sims.ledger.read_text()
    commands = [
        ("demo", "--recover-only", "--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url),
        ("demo", "--sales", "1", "--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url),
        ("journal", "--json"),
    ]
    for args in commands if SOAK else [commands[round_no % len(commands)]]:
        result = refused(config, *args)
        assert result.code == 75, f"{how}: {args[0]} exited {result.code}\n{result.output}"
        assert len(result.refusals) == 1, f"{how}: {args[0]} logged {result.refusals}"
        assert result.tracebacks == 0, result.output
    assert fingerprint(journal) == before, f"{how}: the damaged journal was replaced by the kiosk itself"
    assert sims.ledger.read_text() == ledger, f"{how}: a payment was taken on a refused journal"


def restore_and_recover(config: Path, sims: Simulators, copy: Path) -> None:
    done = run_kiosk(config, "journal", "restore", str(copy))
    assert done.returncode == 0, done.stdout + done.stderr
    recovered = run_kiosk(
        config, "demo", "--recover-only", "--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url
    )
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "restored journal reconciled" in recovered.stderr


def test_a_journal_damaged_before_start_is_refused_and_a_fresh_backup_restores_it_losing_nothing(
    tmp_path: Path, sims: Simulators
) -> None:
    config = write_config(tmp_path)
    assert demo(config, sims, "--sales", "2", "--seed", "1") == 0
    sales = 2
    for round_no, how in enumerate(DAMAGES):
        assert demo(config, sims, "--sales", "1", "--seed", str(10 + round_no)) == 0
        sales += 1
        copy = backup(config, f"before-{how}")  # the technician's backup taken right after the day's sales
        damage(config.parent / "data" / "journal.db", how)
        assert_refused_everywhere(config, sims, how, round_no)
        restore_and_recover(config, sims, copy)
    assert demo(config, sims, "--sales", "1", "--seed", "99") == 0
    sales += 1

    result = check_money(config, sims, tmp_path / "data" / "insurer-sim.sqlite", expected_sales=sales)
    assert result.charged_without_policy == [] and result.base.double_charges == []
    assert result.base.lost_sales == [] and result.base.unannulled_policies == []
    assert result.flagged == [] and result.states["completed"] == sales == result.base.committed


@pytest.mark.parametrize("step", STEPS)
def test_a_journal_damaged_after_a_kill_mid_sale_is_refused_and_the_restored_backup_flags_the_lost_payment(
    tmp_path: Path, sims: Simulators, step: str
) -> None:
    config = write_config(tmp_path)
    assert demo(config, sims, "--sales", "2", "--seed", "1") == 0
    completed, flagged_money = 2, 0
    for round_no, how in enumerate(DAMAGES):
        copy = backup(config, f"before-{how}")  # last night's backup: it lacks the sale about to be killed
        code = demo(config, sims, "--sales", "1", "--crash-at", step, "--seed", str(20 + round_no))
        assert code == -signal.SIGKILL, f"the kiosk was to die at {step}"
        damage(config.parent / "data" / "journal.db", how)
        assert_refused_everywhere(config, sims, f"{how} after a kill at {step}", round_no + 1)
        restore_and_recover(config, sims, copy)
        if step == "confirmed_by_terminal":
            flagged_money += 1  # the terminal committed it; the backup lacks it: flagged with its money
    assert demo(config, sims, "--sales", "1", "--seed", "98") == 0
    completed += 1

    result = check_money(
        config, sims, tmp_path / "data" / "insurer-sim.sqlite", expected_sales=completed + flagged_money
    )
    assert result.charged_without_policy == [] and result.base.double_charges == []
    assert result.base.lost_sales == []
    assert len(result.flagged) == flagged_money
    for sale in result.flagged:
        assert "деньги списаны" in sale["flag_reason"] and sale["terminal_receipt_no"], sale
    assert result.states["completed"] == completed
