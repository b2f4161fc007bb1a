"""Issuing and printing: payment approved → registration → printing → confirmation, as it happens."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import StringProperty
from kivy.uix.label import Label

from ui.presenters.sale import issuing_steps
from ui.screens.base import KioskScreen, load_kv

_MARK = {"done": "✓", "now": "…", "todo": "·"}


class IssuingStep(Label):  # type: ignore[misc]
    """One line of progress."""

    status = StringProperty("todo")


class IssuingScreen(KioskScreen):
    """Polls the sale's state from the journal while the payment worker registers and prints."""

    def on_kv_post(self, _base: Any) -> None:
        self._lines = [IssuingStep(text="", size_hint_y=None, height=52) for _ in range(4)]
        for line in self._lines:
            self.ids.steps.add_widget(line)
        self._poll: Any = None

    def on_enter(self, *_args: Any) -> None:
        self._poll = Clock.schedule_interval(self._tick, 0.25)

    def on_leave(self, *_args: Any) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    def _tick(self, _dt: float) -> None:
        self.refresh()

    def refresh(self) -> None:
        steps = issuing_steps(self.flow.progress())
        done = sum(1 for _, status in steps if status == "done")
        for line, (label, status) in zip(self._lines, steps, strict=True):
            line.status = status
            line.text = f"{_MARK[status]}  {self.tr(label)}"
        self.ids.bar.value = 100 * (done + 0.5) / len(steps)


load_kv(__file__)
