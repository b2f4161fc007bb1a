"""Faults under the journal for the fault suite: a full disk at the N-th write, real tmpfs mounts (full,
read-only), and the money reconciliation with the guard's refusals and flagged sales taken into account.

Everything works inside the test's own directory; mounts are made there and undone afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.kiosk_processes import Reconciliation, Simulators, reconcile, run_kiosk

__all__ = [
    "DiskFull",
    "MoneyCheck",
    "Refused",
    "check_money",
    "fill",
    "mounted_tmpfs",
    "refused",
    "remount",
    "small_disk",
]


class DiskFull:
    """Fails journal commits like a full disk: the ``fail_at``-th write transaction after ``arm`` and, while
    ``stays``, every one after it (the disk stays full); a write that fails is rolled back, as SQLite does.

    ``connection_class()`` is handed to ``open_journal(connection_factory=…)`` (through the guard).
    """

    def __init__(self) -> None:
        self.writes = 0
        self.failures = 0
        self.fail_at: int | None = None
        self.stays = True
        #: with a real file system: at the ``fail_at``-th write, fill this directory's disk instead
        self.fill_dir: Path | None = None
        self.filler: Path | None = None

    def arm(self, fail_at: int, *, stays: bool = True, fill_dir: Path | None = None) -> None:
        """Count writes from now; fail the ``fail_at``-th (and the later ones if ``stays``) — or, given
        ``fill_dir``, fill that real disk just before the ``fail_at``-th write and let SQLite fail by itself."""
        self.writes, self.failures, self.fail_at, self.stays, self.fill_dir = 0, 0, fail_at, stays, fill_dir

    def disarm(self) -> None:
        """No more failures (a filled disk is freed); ``writes`` keeps the count since ``arm``."""
        self.fail_at, self.fill_dir = None, None
        if self.filler is not None:
            self.filler.unlink(missing_ok=True)
            self.filler = None

    def _fails(self) -> bool:
        if self.fail_at is None:
            return False
        return self.writes == self.fail_at or (self.stays and self.writes > self.fail_at)

    def connection_class(self) -> type[sqlite3.Connection]:
        fault = self

        class FullDiskConnection(sqlite3.Connection):
            def commit(self) -> None:
                if not self.in_transaction:
                    super().commit()
                    return
                fault.writes += 1
                if fault.fill_dir is not None:
                    if fault.writes == fault.fail_at and fault.filler is None:
                        fault.filler = fill(fault.fill_dir)
                    try:
                        super().commit()
                    except sqlite3.OperationalError:
                        fault.failures += 1
                        raise
                    return
                if fault._fails():
                    fault.failures += 1
                    self.rollback()
                    raise sqlite3.OperationalError("database or disk is full")
                super().commit()

        return FullDiskConnection


@contextlib.contextmanager
def mounted_tmpfs(point: Path, size: str = "16m") -> Iterator[Path]:
    """A real tmpfs of ``size`` at ``point`` (unmounted afterwards); ``OSError`` where mounting is not allowed."""
    point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise OSError(errno.EPERM, f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def small_disk(config: Path, min_free_mb: int = 2) -> None:
    """Lower the kiosk's free-space minimum (``[data] min_free_mb``) for a data directory on a small tmpfs."""
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[data]\n", f"[data]\nmin_free_mb = {min_free_mb}\n", 1), encoding="utf-8")


def remount(point: Path, mode: str) -> None:
    """``ro`` or ``rw``: remount the tmpfs at ``point``."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True, capture_output=True)


def fill(directory: Path) -> Path:
    """Write a filler file in ``directory`` until its file system is full; returns the file (delete it to free)."""
    filler = directory / "filler"
    block = b"\0" * 65536
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                block = block[: len(block) // 2]
                if not block:
                    break
    finally:
        os.close(fd)
    return filler


@dataclass
class Refused:
    """A command's end under the guard."""

    code: int
    refusals: list[str]
    tracebacks: int
    output: str


def refused(config: Path, *args: str, env: dict[str, str] | None = None) -> Refused:
    """Run ``osago-kiosk ARGS``; what it exited with, its "journal refused" lines, and any traceback."""
    proc = run_kiosk(config, *args, env=env)
    output = proc.stdout + proc.stderr
    lines = [line for line in output.splitlines() if "journal refused [" in line]
    return Refused(proc.returncode, lines, output.count("Traceback"), output)


@dataclass
class MoneyCheck:
    """The reconciliation, plus the sales the kiosk flagged for the technician (with their money stated)."""

    base: Reconciliation
    flagged: list[dict[str, Any]] = field(default_factory=list)

    @property
    def charged_without_policy(self) -> list[str]:
        """Committed payments with no completed sale and no flagged sale that states the money was taken."""
        stated = {s["terminal_trace"] for s in self.flagged if "деньги списаны" in (s["flag_reason"] or "")}
        return [entry for entry in self.base.charged_without_policy if entry.split(":")[0][6:] not in stated]

    @property
    def committed_flagged(self) -> list[str]:
        """Flagged sales whose payment the terminal committed (the technician must decide them)."""
        return [s["id"][:8] for s in self.flagged if s["terminal_trace"] in self._committed]

    _committed: set[str] = field(default_factory=set)

    @property
    def states(self) -> Counter[str]:
        return self.base.states


def check_money(config: Path, sims: Simulators, insurer_state: Path, expected_sales: int) -> MoneyCheck:
    """Journal ↔ terminal ledger ↔ printer jobs ↔ insurer, with ``osago-kiosk journal --json`` as the journal."""
    proc = run_kiosk(config, "journal", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sales: list[dict[str, Any]] = json.loads(proc.stdout)
    flagged = [s for s in sales if s["state"] == "flagged"]
    others = [s for s in sales if s["state"] != "flagged"]
    base = reconcile(others, sims, insurer_state, expected_sales=expected_sales - len(flagged))
    from drivers.payment.ledger import final_states

    committed = {trace for trace, entry in final_states(sims.ledger, key="trace").items() if entry.fate == "committed"}
    return MoneyCheck(base, flagged, committed)
