"""Real processes for sale tests: the terminal and printer simulators, and the kiosk's demo command.

The simulators run as their own processes so they outlive a kiosk killed with SIGKILL, exactly as a
real terminal and printer do; the kiosk talks to them with its real drivers over a pty and TCP.
``reconcile`` compares the kiosk's journal with the terminal's ledger (the "bank statement"), the
printer's job journal (what really came out) and the insurer's registrations.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.payment.ledger import final_states
from drivers.printer.simulator import control
from kiosk.insurer.simulator import InsurerSimulator, SimulatorDataset

REPO = Path(__file__).resolve().parents[2]
PYTHON = [sys.executable, "-m", "kiosk"]


@dataclass
class Simulators:
    """A terminal simulator on a pty and a printer simulator on TCP, with their journals."""

    root: Path
    baudrate: int = 115200
    think: float = 0.05
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    terminal_link: Path = field(init=False)
    printer_address: str = ""
    printer_control: tuple[str, int] = ("127.0.0.1", 0)

    def __post_init__(self) -> None:
        self.terminal_link = self.root / "zvt"

    @property
    def ledger(self) -> Path:
        return self.root / "terminal-ledger.jsonl"

    @property
    def printer_jobs(self) -> Path:
        return self.root / "printer-jobs.jsonl"

    @property
    def terminal_url(self) -> str:
        return f"zvt://{self.terminal_link}?baudrate={self.baudrate}"

    @property
    def printer_url(self) -> str:
        return f"escpos+tcp://{self.printer_address}"

    def start(self) -> Simulators:
        terminal = self._spawn([*PYTHON, "simulate", "terminal", "--pty", "--link", str(self.terminal_link), "--ledger",
                                str(self.ledger), "--think-time", str(self.think), "--baudrate", str(self.baudrate)])  # fmt: skip
        assert terminal.startswith("/dev/pts/"), terminal
        printer = json.loads(self._spawn([*PYTHON, "simulate", "printer", "--port", "0", "--control-port", "0",
                                          "--jobs", str(self.printer_jobs)]))  # fmt: skip
        self.printer_address = printer["printer"]
        host, port = printer["control"].rsplit(":", 1)
        self.printer_control = (host, int(port))
        return self

    def _spawn(self, argv: list[str]) -> str:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, cwd=REPO)
        self.procs.append(proc)
        assert proc.stdout is not None
        return proc.stdout.readline().strip()

    def printer(self, command: str) -> Any:
        """Send a control command to the printer simulator (``paper 10``, ``paper none``, ``fault set …``)."""
        return control(self.printer_control, command)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def write_config(root: Path, **overrides: str) -> Path:
    """A kiosk config whose data lives under ``root`` (tables from the repository)."""
    config = REPO / "config"
    insurer_url = overrides.get("insurer_url", "sim://insurer")
    text = f"""
[kiosk]
id = "KIOSK-CRASH"
[tariffs]
dir = "{config / "tariffs"}"
base_rates = "{config / "base_rates.toml"}"
[data]
dir = "{root / "data"}"
[insurer]
url = "{insurer_url}"
simulator = "{config / "insurer_simulator.toml"}"
[sale]
earliest_start_days = 3
"""
    path = root / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_kiosk(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``osago-kiosk --config CONFIG ARGS`` as a process."""
    return subprocess.run(
        [*PYTHON, "--config", str(config), *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def journal(config: Path) -> list[dict[str, Any]]:
    """The kiosk's sales as ``osago-kiosk journal --json`` lists them."""
    proc = run_kiosk(config, "journal", "--json")
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    return rows


@dataclass
class Reconciliation:
    """The three counts that must be zero, and what was found."""

    charged_without_policy: list[str]
    double_charges: list[str]
    lost_sales: list[str]
    unannulled_policies: list[str]
    states: Counter[str]
    committed: int

    @property
    def clean(self) -> bool:
        return not (self.charged_without_policy or self.double_charges or self.lost_sales or self.unannulled_policies)


def reconcile(
    sales: list[dict[str, Any]], sims: Simulators, insurer_state: Path, expected_sales: int
) -> Reconciliation:
    """Journal ↔ terminal ledger ↔ printer output ↔ insurer."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for sale in sales:
        if sale["terminal_trace"]:
            by_trace.setdefault(sale["terminal_trace"], []).append(sale)
    ledger = final_states(sims.ledger, key="trace")
    # Policy number (10 digits) -> whether a whole copy came out (cut, paper never ran out in it).
    printed: dict[str, bool] = {}
    for line in sims.printer_jobs.read_text(encoding="utf-8").splitlines() if sims.printer_jobs.exists() else []:
        job = json.loads(line)
        for qr in job.get("qr", []):
            if "number=" in qr:
                number = qr.rsplit("number=", 1)[1][-10:]
                intact = job["state"] == "cut" and not job.get("paper_out_during_job")
                printed[number] = printed.get(number, False) or intact
    insurer = InsurerSimulator(
        SimulatorDataset.load(REPO / "config" / "insurer_simulator.toml"), state_file=insurer_state
    )
    cancelled = insurer.cancelled
    insurer.close()

    charged_without_policy, double_charges = [], []
    committed = [trace for trace, entry in ledger.items() if entry.fate == "committed"]
    for trace in committed:
        owners = by_trace.get(trace, [])
        if len(owners) != 1 or owners[0]["state"] != "completed":
            charged_without_policy.append(f"trace {trace}: journal {[o['state'] for o in owners]}")
            continue
        sale = owners[0]
        series, number = (sale["policy_number"] or " ").split(" ")
        if not sale["policy_number"] or (series, number) in cancelled or not printed.get(number):
            charged_without_policy.append(
                f"trace {trace}: policy {sale['policy_number']} printed={printed.get(number)}"
            )
    per_sale = Counter(sale["id"] for trace in committed for sale in by_trace.get(trace, []))
    double_charges = [sale_id for sale_id, count in per_sale.items() if count > 1]
    final = {"completed", "reversed", "abandoned", "application_issued"}
    lost = [f"{s['id'][:8]} {s['state']}" for s in sales if s["state"] not in final]
    if len(sales) != expected_sales:
        lost.append(f"{expected_sales} sales started, {len(sales)} in the journal")
    for sale in sales:
        if sale["state"] == "completed" and sale["terminal_trace"] not in committed:
            lost.append(f"{sale['id'][:8]} completed without a committed payment")
    unannulled = [
        s["policy_number"]
        for s in sales
        if s["state"] == "reversed" and s["policy_number"] and tuple(s["policy_number"].split(" ")) not in cancelled
    ]
    return Reconciliation(
        charged_without_policy, double_charges, lost, unannulled, Counter(s["state"] for s in sales), len(committed)
    )


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)
