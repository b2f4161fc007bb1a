"""Fixtures: the terminal simulator as a real child process on a pty (or TCP), with its ledger."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.payment.ledger import LedgerEntry, final_states, read_ledger
from drivers.payment.sim import SimulatorProcess


class Simulator:
    """One ``python -m drivers.payment.simulator`` process; ``address`` is its pty path or host:port."""

    def __init__(self, tmp: Path, *args: str, tcp: bool = False) -> None:
        self.ledger = tmp / "ledger.jsonl"
        self.control = tmp / "control.json"
        argv = [sys.executable, "-m", "drivers.payment.simulator", "--ledger", str(self.ledger)]
        argv += ["--control", str(self.control), *args]
        argv += ["--tcp", "127.0.0.1:0"] if tcp else ["--pty"]
        self.process = SimulatorProcess(argv)  # the same launcher sim:// uses
        self.address = self.process.address

    @property
    def url(self) -> str:
        return f"zvt://{self.address}" if self.address.startswith("/") else f"zvt+tcp://{self.address}"

    def control_with(self, **settings: object) -> None:
        """Change the simulator's behaviour at run time (it re-reads the file before each command)."""
        self.control.write_text(json.dumps(settings))
        time.sleep(0.5)  # an idle simulator re-reads it every 0.2 s

    def entries(self) -> list[LedgerEntry]:
        return read_ledger(self.ledger)

    def fates(self) -> dict[str, str]:
        return {receipt: entry.event for receipt, entry in final_states(self.ledger).items()}

    def wait_for(self, predicate: Callable[[list[LedgerEntry]], bool], timeout: float) -> list[LedgerEntry]:
        deadline = time.monotonic() + timeout
        while True:
            entries = self.entries()
            if predicate(entries) or time.monotonic() > deadline:
                return entries
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process.proc.poll() is None

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture
def start_simulator(tmp_path: Path) -> Iterator[Callable[..., Simulator]]:
    """Start simulators (stopped after the test); arguments are simulator command-line flags."""
    running: list[Simulator] = []

    def start(*args: str, tcp: bool = False) -> Simulator:
        sim = Simulator(tmp_path, "--think-time", "0.2", *args, tcp=tcp)
        running.append(sim)
        return sim

    yield start
    for sim in running:
        sim.stop()
