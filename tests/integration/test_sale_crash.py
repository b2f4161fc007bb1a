"""Kill the kiosk (SIGKILL) at every step of a sale, restart, recover, and reconcile the money.

The terminal and printer simulators are separate processes that outlive the kiosk, like real
devices; the kiosk talks to them with its real drivers (ZVT over a pty, ESC/POS over TCP). After all
the crashes and recoveries the kiosk's journal is reconciled with the terminal's ledger (the bank
statement), the printer's job journal (what really came out) and the insurer's registrations:
0 charged without a policy, 0 double charges, 0 lost sales, every reversed sale's policy annulled.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kiosk_processes import Simulators, journal, reconcile, run_kiosk, write_config

pytestmark = pytest.mark.integration

#: Every checkpoint of a paid sale, in order (kiosk.sale.service).
PAID_STEPS = [
    "payment_started",
    "authorised_by_terminal",
    "registering",
    "registered_by_insurer",
    "printing_policy",
    "printed_policy",
    "confirming",
    "confirmed_by_terminal",
]
ROUNDS = int(os.environ.get("OSAGO_CRASH_ROUNDS", "2"))  # more for a soak: OSAGO_CRASH_ROUNDS=10


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[Simulators]:
    simulators = Simulators(tmp_path).start()
    yield simulators
    simulators.stop()


def demo(config: Path, sims: Simulators, *args: str, env: dict[str, str] | None = None) -> int:
    proc = run_kiosk(
        config, "demo", "--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url, *args, env=env
    )
    assert proc.returncode in (0, 1, -signal.SIGKILL), proc.stdout + proc.stderr
    return proc.returncode


def crash_and_recover(config: Path, sims: Simulators, step: str, seed: int, env: dict[str, str] | None = None) -> None:
    code = demo(config, sims, "--sales", "1", "--crash-at", step, "--seed", str(seed), env=env)
    assert code == -signal.SIGKILL, f"the kiosk was to die at {step}"
    recovered = run_kiosk(config, "demo", "--recover-only", "--terminal-url", sims.terminal_url, "--printer-url",
                          sims.printer_url, env=env)  # fmt: skip
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "восстановлено" in recovered.stdout, f"nothing recovered after a crash at {step}"


def test_sigkill_at_every_step_of_a_paid_sale_loses_no_money_and_no_sale(tmp_path: Path, sims: Simulators) -> None:
    config = write_config(tmp_path)
    started = 0
    for round_no in range(ROUNDS):
        for index, step in enumerate(PAID_STEPS):
            crash_and_recover(config, sims, step, seed=100 * round_no + index)
            started += 1
    assert demo(config, sims, "--sales", "3", "--seed", "7") == 0
    started += 3

    sales = journal(config)
    result = reconcile(sales, sims, tmp_path / "data" / "insurer-sim.sqlite", expected_sales=started)

    assert result.charged_without_policy == []
    assert result.double_charges == []
    assert result.lost_sales == []
    assert result.unannulled_policies == []
    # Only a kiosk that died after the terminal committed keeps the money: then the policy is valid.
    assert result.states["completed"] == 3 + ROUNDS
    assert result.committed == result.states["completed"]


def test_sigkill_while_the_insurer_or_the_printer_fails_loses_no_money(tmp_path: Path, sims: Simulators) -> None:
    config = write_config(tmp_path)
    failing_insurer = {"OSAGO_INSURER__URL": "sim://insurer?fault=register"}
    started = 0
    # Registration fails after the payment: the kiosk refuses the goods; die on either side of that.
    for step in ("registering", "refusing", "refused_by_terminal"):
        crash_and_recover(config, sims, step, seed=started, env=failing_insurer)
        started += 1
    # The roll runs out in the middle of the policy: die while printing, refusing and after the refusal.
    for step in ("printed_policy", "refusing", "refused_by_terminal"):
        sims.printer("paper 12")
        crash_and_recover(config, sims, step, seed=started)
        sims.printer("paper none")  # a new roll...
        sims.printer("fault clear paper-out")  # ...and the sensor sees paper again
        started += 1
    # The insurer is unreachable before payment: the application path, killed at its letter.
    crash_and_recover(
        config, sims, "printing_letter", seed=started, env={"OSAGO_INSURER__URL": "sim://insurer?fault=unavailable"}
    )
    started += 1
    assert demo(config, sims, "--sales", "2", "--seed", "8") == 0
    started += 2

    sales = journal(config)
    result = reconcile(sales, sims, tmp_path / "data" / "insurer-sim.sqlite", expected_sales=started)

    assert result.clean, result
    assert result.states == {"reversed": 6, "application_issued": 1, "completed": 2}
