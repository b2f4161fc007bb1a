"""Idle safety: ask "Вы ещё здесь?" after a quiet spell, then send the kiosk back to the attract screen.

Pure logic on a monotonic clock the view ticks once a second. Never while money or paper moves
(payment, issuing) and never in technician mode: those *suspend* the watch, each under its own reason,
and it restarts from a full idle period once the last reason is lifted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["IdleAction", "IdleWatch"]


class IdleAction(enum.Enum):
    """What the view must do after a tick."""

    NONE = "none"
    ASK = "ask"  # show "Вы ещё здесь?" with the countdown
    RESET = "reset"  # wipe everything and go back to the attract screen


@dataclass
class IdleWatch:
    """``idle`` seconds without a touch → ASK; ``warning`` more seconds → RESET."""

    idle: float
    warning: float
    last_activity: float = 0.0
    asking: bool = False
    armed: bool = False
    suspended: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.idle <= 0 or self.warning <= 0:
            raise ValueError("idle and warning times must be positive")

    def arm(self, now: float) -> None:
        """A customer is in the flow (an attract screen has nothing to forget)."""
        self.armed = True
        self.touch(now)

    def disarm(self) -> None:
        """Back on the attract screen."""
        self.armed = False
        self.asking = False

    def touch(self, now: float) -> None:
        """Any touch or key: the customer is here."""
        self.last_activity = now
        self.asking = False

    def suspend(self, reason: str) -> None:
        """Payment, printing or technician mode: no idle reset until ``resume``."""
        self.suspended.add(reason)
        self.asking = False

    def resume(self, reason: str, now: float) -> None:
        """Lift one reason; the idle period starts afresh."""
        self.suspended.discard(reason)
        self.touch(now)

    @property
    def active(self) -> bool:
        """Counting now."""
        return self.armed and not self.suspended

    def seconds_left(self, now: float) -> int:
        """Seconds shown on the "Вы ещё здесь?" countdown."""
        remaining = self.last_activity + self.idle + self.warning - now
        return max(0, int(remaining + 0.999))

    def tick(self, now: float) -> IdleAction:
        """What to do now."""
        if not self.active:
            return IdleAction.NONE
        quiet = now - self.last_activity
        if quiet >= self.idle + self.warning:
            self.asking = False
            self.armed = False
            return IdleAction.RESET
        if quiet >= self.idle and not self.asking:
            self.asking = True
            return IdleAction.ASK
        return IdleAction.NONE
