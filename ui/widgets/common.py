"""Buttons, fields, the step indicator, pick lists and overlays (layout in ``widgets.kv``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView

from ui.presenters.form import Choice

__all__ = [
    "BusyOverlay",
    "DocumentView",
    "FieldBox",
    "KButton",
    "NavBar",
    "PickList",
    "StepIndicator",
    "TopBar",
]


def tr(text: str) -> str:
    """The running app's translation of ``text``."""
    app = App.get_running_app()
    return app.tr(text) if app is not None else text


class KButton(Button):  # type: ignore[misc]
    """A big flat button; ``kind`` is primary, secondary or danger."""

    kind = StringProperty("primary")


class FieldBox(ButtonBehavior, BoxLayout):  # type: ignore[misc]
    """A field as the customer sees it: label, value (or a grey example), the message under it."""

    name = StringProperty("")
    label = StringProperty("")
    value = StringProperty("")
    hint = StringProperty("")
    error = StringProperty("")
    active = BooleanProperty(False)
    choice = BooleanProperty(False)


class StepIndicator(BoxLayout):  # type: ignore[misc]
    """ "1 Автомобиль › 2 Владелец › …" with the current step highlighted."""

    steps = ListProperty([])
    current = StringProperty("")
    language = StringProperty("")

    def on_kv_post(self, _base: Any) -> None:
        self.fbind("steps", self._rebuild)
        self.fbind("current", self._rebuild)
        self.fbind("language", self._rebuild)
        self._rebuild()

    def _rebuild(self, *_args: Any) -> None:
        self.clear_widgets()
        names = [name for name, _ in self.steps]
        at = names.index(self.current) if self.current in names else -1
        for index, (_name, title) in enumerate(self.steps):
            state = "now" if index == at else "done" if index < at else "todo"
            self.add_widget(StepLabel(text=f"{index + 1}. {tr(title)}", state=state))


class StepLabel(Label):  # type: ignore[misc]
    """One step of the indicator."""

    state = StringProperty("todo")


class TopBar(BoxLayout):  # type: ignore[misc]
    """The step indicator and the language switch."""

    step = StringProperty("")


class NavBar(BoxLayout):  # type: ignore[misc]
    """ "Назад" and "Далее" (and "Отменить покупку"), on every step."""

    next_text = StringProperty("Далее")
    back_text = StringProperty("Назад")
    show_next = BooleanProperty(True)
    show_back = BooleanProperty(True)
    show_cancel = BooleanProperty(True)
    __events__ = ("on_back", "on_next", "on_cancel")

    def on_back(self) -> None:
        """Dispatched by the back button."""

    def on_next(self) -> None:
        """Dispatched by the next button."""

    def on_cancel(self) -> None:
        """Dispatched by the cancel button."""


class PickList(ModalView):  # type: ignore[misc]
    """A full-screen list of big buttons to pick one value (regions, localities, categories)."""

    title = StringProperty("")
    columns = NumericProperty(1)

    def __init__(self, title: str, choices: Sequence[Choice], on_pick: Callable[[str], None], **kw: Any) -> None:
        super().__init__(**kw)
        self.title = title
        self.columns = 1 if len(choices) <= 6 else 2
        self._on_pick = on_pick
        grid = self.ids.grid
        for choice in choices:
            button = KButton(text=tr(choice.label), kind="secondary", size_hint_y=None, height=72)
            button.value = choice.value
            button.bind(on_release=self._picked)
            grid.add_widget(button)

    def _picked(self, button: Any) -> None:
        self.dismiss()
        self._on_pick(button.value)


class DocumentView(ModalView):  # type: ignore[misc]
    """A consent document to read in full, with its version."""

    title = StringProperty("")
    text = StringProperty("")
    version = StringProperty("")


class BusyOverlay(ModalView):  # type: ignore[misc]
    """ "Подождите…" over the screen while a long call runs in a worker thread."""

    text = StringProperty("")
    progress = NumericProperty(0)
    owner = ObjectProperty(None, allownone=True)

    def on_pre_open(self) -> None:
        self.progress = 0
        self._spin = Clock.schedule_interval(self._step, 0.05)

    def on_dismiss(self) -> None:
        spin = getattr(self, "_spin", None)
        if spin is not None:
            spin.cancel()

    def _step(self, _dt: float) -> None:
        self.progress = (self.progress + 2) % 100


class StillHere(ModalView):  # type: ignore[misc]
    """ "Вы ещё здесь?" with the seconds left before everything typed is wiped."""

    seconds = NumericProperty(0)
    __events__ = ("on_stay",)

    def on_stay(self) -> None:
        """The customer touched "Да, продолжить"."""
