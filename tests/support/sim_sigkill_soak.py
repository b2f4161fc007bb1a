"""Rig for the random-SIGKILL soak: ``osago-kiosk demo`` with ``sim://`` devices, killed and restarted.

Unlike ``kiosk_processes.Simulators`` (devices that outlive the kiosk, as real ones do), here the
simulators are the kiosk's own children: the terminal simulator is started by ``sim://terminal`` and
must die with the kiosk, rebuild its last transaction from its ledger when the restarted kiosk starts a
new one, and never share the ledger with a leftover. The printer simulator runs in the kiosk process;
the insurer simulator keeps its registrations in SQLite under the data directory.

``SimSoak.reconcile`` compares the journal, the terminal's ledger, the printer's jobs and the insurer
through ``kiosk_processes.reconcile`` and adds what only this rig can see: flagged sales whose payment
the ledger says was committed, and simulator processes left running.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from drivers.payment.ledger import final_states
from tests.support.kiosk_processes import REPO, Reconciliation, Simulators, journal, reconcile, run_kiosk, write_config

TERMINAL_URL = "sim://terminal?think=0.05&baudrate=115200"
PRINTER_URL = "sim://printer"
ORPHAN_GRACE = 5.0  # s a simulator may take to notice that its kiosk is gone


def simulator_processes(ledger: Path) -> list[int]:
    """PIDs of live terminal simulators writing ``ledger`` (read from the process table)."""
    needle = str(ledger).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"drivers.payment.simulator" in cmdline and needle in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class SoakCounts:
    """What the soak did and found; every count after ``kills`` must be zero (``sales`` aside)."""

    kills: int = 0
    killed_in_sale: int = 0
    ended_before_kill: int = 0
    sales: int = 0
    states: Counter[str] = field(default_factory=Counter)
    committed: int = 0
    charged_without_policy: int = 0
    double_charges: int = 0
    lost_sales: int = 0
    unannulled_policies: int = 0
    committed_flagged: int = 0
    orphans: int = 0
    failed_restarts: int = 0
    recovered: Counter[str] = field(default_factory=Counter)  # "state → state" transitions recovery made
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
        return (
            f"{self.kills} SIGKILLs ({self.killed_in_sale} left a sale unfinished, {self.ended_before_kill} came "
            f"too late), {self.sales} sales ({states}), "
            f"{self.committed} payments committed; charged without a policy {self.charged_without_policy}, "
            f"double charges {self.double_charges}, lost sales {self.lost_sales}, unannulled policies "
            f"{self.unannulled_policies}, committed but flagged {self.committed_flagged}, orphan simulators "
            f"{self.orphans}, failed restarts {self.failed_restarts}; recovery: "
            + ", ".join(f"{k} ×{v}" for k, v in sorted(self.recovered.items()))
        )


class SimSoak:
    """One kiosk data directory, killed and restarted again and again."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.config = write_config(root)
        self.data = root / "data"
        self.random = random.Random(seed)
        self.counts = SoakCounts()
        self._seed = seed

    @property
    def ledger(self) -> Path:
        return self.data / "terminal-ledger.jsonl"

    def _demo(self, *args: str) -> list[str]:
        return [*[sys.executable, "-m", "kiosk"], "--config", str(self.config), "demo", "--terminal-url",
                TERMINAL_URL, "--printer-url", PRINTER_URL, *args]  # fmt: skip

    def kill_at_random(self, earliest: float = 2.5, latest: float = 8.0) -> None:
        """Start selling, SIGKILL the kiosk at a random moment, then check that no simulator is left.

        The kiosk starts in about 3 s and then sells back to back (about 0.4 s a sale), so most moments
        fall inside a paid sale; the rest hit start-up or recovery, which must survive a kill as well."""
        self._seed += 1
        proc = subprocess.Popen(
            self._demo("--sales", "40", "--seed", str(self._seed)),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(self.random.uniform(earliest, latest))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.counts.kills += 1
        if proc.returncode != -signal.SIGKILL:
            self.counts.ended_before_kill += 1  # sold everything first: this round killed nothing
        self._check_orphans()

    def _check_orphans(self) -> None:
        deadline = time.monotonic() + ORPHAN_GRACE
        while (left := simulator_processes(self.ledger)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left:
            self.counts.orphans += len(left)
            self.counts.details.append(f"kill {self.counts.kills}: orphan simulators {left}")
            for pid in left:  # ours by ledger path: end them so the next round starts clean
                os.kill(pid, signal.SIGKILL)

    def restart(self) -> str:
        """Start the kiosk again for recovery only; it must exit 0 and leave no simulator behind."""
        proc = run_kiosk(self.config, "demo", "--recover-only", "--terminal-url", TERMINAL_URL,
                         "--printer-url", PRINTER_URL)  # fmt: skip
        if proc.returncode != 0:
            self.counts.failed_restarts += 1
            self.counts.details.append(
                f"restart after kill {self.counts.kills}: {proc.returncode} {proc.stderr[-500:]}"
            )
        recovered = [line for line in proc.stdout.splitlines() if line.startswith("восстановлено")]
        if recovered:  # the kill hit a sale on its way (the journal had it unfinished)
            self.counts.killed_in_sale += 1
        for line in recovered:  # "восстановлено 1a2b3c4d: confirming → completed (note)"
            self.counts.recovered[line.split(": ", 1)[1].split(" (", 1)[0]] += 1
        self._check_orphans()
        return proc.stdout

    def sell(self, sales: int) -> int:
        proc = subprocess.run(self._demo("--sales", str(sales), "--seed", "9"), cwd=REPO, capture_output=True,
                              text=True, timeout=300, check=False)  # fmt: skip
        self._check_orphans()
        return proc.returncode

    def reconcile(self) -> SoakCounts:
        """Journal ↔ terminal ledger ↔ printer jobs ↔ insurer, into ``counts``."""
        sales = journal(self.config)
        devices = Simulators(self.data)  # not started: only its ledger and printer-jobs paths are used
        found: Reconciliation = reconcile(sales, devices, self.data / "insurer-sim.sqlite", len(sales))
        ledger = final_states(self.ledger, key="trace")
        committed = {trace for trace, entry in ledger.items() if entry.event == "committed"}
        flagged = [s for s in sales if s["state"] == "flagged" and s["terminal_trace"] in committed]
        counts = self.counts
        counts.sales = len(sales)
        counts.states = Counter(s["state"] for s in sales)
        counts.committed = found.committed
        counts.charged_without_policy = len(found.charged_without_policy)
        counts.double_charges = len(found.double_charges)
        counts.lost_sales = len(found.lost_sales)
        counts.unannulled_policies = len(found.unannulled_policies)
        counts.committed_flagged = len(flagged)
        counts.details += found.charged_without_policy + found.double_charges + found.lost_sales
        counts.details += [f"unannulled {p}" for p in found.unannulled_policies]
        counts.details += [f"flagged {s['id'][:8]} with committed trace {s['terminal_trace']}" for s in flagged]
        return counts
