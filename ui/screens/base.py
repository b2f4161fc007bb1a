"""What every screen shares: the app, a coalesced refresh, and the form-screen machinery."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.validation import FieldError
from ui.presenters.form import Form
from ui.widgets.common import FieldBox, PickList

if TYPE_CHECKING:
    from ui.app import KioskApp

__all__ = ["LONG_PRESS", "FormScreen", "KioskScreen", "TechnicianCorner", "load_kv"]

#: seconds a finger must rest on the top-right corner to ask for technician mode
LONG_PRESS = 3.0


def load_kv(module_file: str) -> None:
    """Load the .kv next to a screen module (once per process)."""
    path = str(Path(module_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)


class KioskScreen(Screen):  # type: ignore[misc]
    """A screen that redraws from its presenter through one coalesced trigger."""

    step = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.refresh_soon = Clock.create_trigger(self._refresh, -1)

    @property
    def app(self) -> KioskApp:
        app: KioskApp = App.get_running_app()
        return app

    @property
    def flow(self) -> Any:
        return self.app.flow

    def tr(self, text: str) -> str:
        return self.app.tr(text)

    def on_pre_enter(self, *_args: Any) -> None:
        self._refresh()

    def _refresh(self, *_args: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the presenter (override)."""


class TechnicianCorner:
    """The hidden top-right corner (``ids.corner``): held for ``LONG_PRESS`` seconds it asks for technician
    mode, which only a verified service card opens (``app.technician_entry``)."""

    _pressed_at: float | None = None

    def on_touch_down(self, touch: Any) -> bool:
        if self.ids.corner.collide_point(*touch.pos):  # type: ignore[attr-defined]
            self._pressed_at = time.monotonic()
            return True
        result: bool = super().on_touch_down(touch)  # type: ignore[misc]
        return result

    def on_touch_up(self, touch: Any) -> bool:
        if self._pressed_at is not None and self.ids.corner.collide_point(*touch.pos):  # type: ignore[attr-defined]
            held = time.monotonic() - self._pressed_at
            self._pressed_at = None
            if held >= LONG_PRESS:
                self.app.technician_entry()  # type: ignore[attr-defined]
            return True
        self._pressed_at = None
        result: bool = super().on_touch_up(touch)  # type: ignore[misc]
        return result


class FormScreen(KioskScreen):
    """Fields in a scrolling grid, the on-screen keyboard for the active field, back / next."""

    def form(self) -> Form:
        """The presenter's form now on screen (override)."""
        raise NotImplementedError

    def visible(self) -> list[str]:
        """Field names shown now."""
        return self.form().names

    def on_kv_post(self, _base: Any) -> None:
        keyboard = self.ids.keyboard
        keyboard.bind(on_textinput=self._typed, on_key_down=self._key)
        self._boxes: dict[str, FieldBox] = {}
        self._shown: list[str] = []

    # -- keyboard and fields -------------------------------------------------------------------
    def _typed(self, _keyboard: Any, text: str) -> None:
        self.form().type(text)
        self.refresh_soon()

    def _key(self, _keyboard: Any, keycode: Any, _text: Any, _modifiers: Any) -> None:
        if keycode == "backspace":
            self.form().backspace()
            self.refresh_soon()

    def type_text(self, text: str) -> None:
        """A hardware keyboard typed (developer mode): same as the on-screen keys."""
        self.form().type(text)
        self.refresh_soon()

    def hardware_backspace(self) -> None:
        """A hardware backspace (developer mode)."""
        self.form().backspace()
        self.refresh_soon()

    def field_tapped(self, box: FieldBox) -> None:
        form = self.form()
        spec = form[box.name].spec
        if spec.is_choice:
            PickList(self.tr(spec.label), spec.choices, lambda value: self.picked(box.name, value)).open()
            return
        form.focus(box.name)
        self.refresh_soon()

    def picked(self, name: str, value: str) -> None:
        """A value was picked from a list."""
        self.form().set(name, value)
        self.refresh_soon()

    def _sync_boxes(self) -> None:
        names = self.visible()
        if names == self._shown and all(n in self._boxes for n in names):
            return
        grid = self.ids.fields
        grid.clear_widgets()
        for name in names:
            box = self._boxes.get(name)
            if box is None:
                box = FieldBox(name=name)
                box.bind(on_release=self.field_tapped)
                self._boxes[name] = box
            grid.add_widget(box)
        self._shown = names

    def refresh(self) -> None:
        form = self.form()
        self._sync_boxes()
        for name in self._shown:
            field = form[name]
            box = self._boxes[name]
            box.label = field.spec.label
            box.hint = field.spec.hint
            box.value = field.display
            box.error = field.error
            box.choice = field.spec.is_choice
            box.active = name == form.active
        self.ids.keyboard.pad = form.pad
        active = self._boxes.get(form.active)
        if active is not None and active.parent is not None:
            self.ids.scroll.scroll_to(active, padding=8, animate=False)

    # -- navigation ------------------------------------------------------------------------------
    def show_error(self, exc: FieldError) -> None:
        """A message from the sale (or a validator) next to its field, or under the form."""
        self.ids.message.text = exc.message
        self.refresh_soon()

    def clear_message(self) -> None:
        self.ids.message.text = ""

    def advance(self, check: Callable[[], object], target: str) -> None:
        """ "Далее": the step's check (FieldError → message on screen), then the next screen."""
        self.clear_message()
        try:
            check()
        except FieldError as exc:
            self.show_error(exc)
            return
        self.app.go(target)

    def back(self) -> None:
        self.app.back()

    def cancel(self) -> None:
        self.app.cancel_sale()
