"""The payment screen: the terminal's own texts as they come, and a visible countdown.

The countdown is how long the kiosk waits for the card; when it runs out the kiosk asks the terminal
to abort (the customer walked away), exactly as if "Отмена" had been pressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PaymentWatch"]


@dataclass
class PaymentWatch:
    """Countdown and terminal texts of one payment attempt."""

    seconds: int
    started: float | None = None
    texts: list[str] = field(default_factory=list)
    cancel_requested: bool = False
    keep: int = 3

    def start(self, now: float) -> None:
        """The payment starts (the terminal is asked to authorise)."""
        self.started = now
        self.texts = []
        self.cancel_requested = False

    def add(self, text: str) -> None:
        """A text from the terminal (only the last few stay on screen; repeats are dropped)."""
        text = " ".join(text.split())
        if text and (not self.texts or self.texts[-1] != text):
            self.texts = [*self.texts, text][-self.keep :]

    @property
    def current(self) -> str:
        """The latest terminal text (what the customer should do now)."""
        return self.texts[-1] if self.texts else "Следуйте указаниям на терминале оплаты"

    def left(self, now: float) -> int:
        """Whole seconds left to pay."""
        if self.started is None:
            return self.seconds
        return max(0, int(self.started + self.seconds - now + 0.999))

    def expired(self, now: float) -> bool:
        """Time is up: abort the payment (once)."""
        if self.started is None or self.cancel_requested or self.left(now) > 0:
            return False
        self.cancel_requested = True
        return True
