"""A hand-turned clock for tests of lockouts and idle time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Wall time and monotonic time that move only when ``advance`` is called."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self._now = start
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The fake UTC time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """The fake monotonic time."""
        with self._lock:
            return self._mono

    def advance(self, delta: timedelta) -> None:
        """Move both clocks forward."""
        with self._lock:
            self._now += delta
            self._mono += delta.total_seconds()

    def set_wall(self, when: datetime) -> None:
        """Set the wall clock alone (an administrator changing the date)."""
        with self._lock:
            self._now = when
