"""The fault suite: the kiosk attacked the way a bad day attacks it (a damaged journal, a full disk, a
read-only data directory). ``OSAGO_FAULT_SOAK=1`` runs the long counts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kiosk_processes import Simulators

#: the long counts (every checkpoint, every damage at every step) only in soak mode
SOAK = os.environ.get("OSAGO_FAULT_SOAK", "") not in ("", "0")


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[Simulators]:
    """The terminal and printer simulators as their own processes (they outlive a killed kiosk)."""
    (tmp_path / "devices").mkdir()
    simulators = Simulators(tmp_path / "devices").start()
    yield simulators
    simulators.stop()
