"""The on-screen keyboard: Kivy's VKeyboard, embedded in the screen, with our layouts.

Two fixes over Kivy 2.3.1: ``change_layout()`` (the "EN"/"RU" key) is a no-op there — here it
switches between the Russian ЙЦУКЕН layout (``ui/layouts/ru.json``, which Kivy does not ship) and
Latin; and a keyboard that is not docked becomes a draggable, rotatable scatter there — here it stays
where the screen put it. Keys that type send ``on_textinput``; backspace arrives as ``on_key_down``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.properties import StringProperty
from kivy.uix.vkeyboard import VKeyboard

from ui.presenters.pads import PADS, pad_layout

__all__ = ["KEY_WIDTH", "KioskKeyboard"]

RU_LAYOUT = str(Path(__file__).resolve().parent.parent / "layouts" / "ru.json")
#: width of one key unit (px) per pad: the digit pad gets fat keys
KEY_WIDTH = {"digits": 150, "plate": 110}
KEY_HEIGHT = 62
#: what the layout key switches to
SWITCH = {"ru": "latin", "latin": "ru"}


class KioskKeyboard(VKeyboard):  # type: ignore[misc]
    """A VKeyboard with the kiosk's pads, fixed in place; ``pad`` picks the layout by name."""

    pad = StringProperty("ru")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("layout", RU_LAYOUT)
        kwargs.setdefault("docked", False)
        kwargs.setdefault("size_hint", (None, None))
        super().__init__(**kwargs)
        for name in PADS:
            self.available_layouts[name] = pad_layout(name)
        with open(RU_LAYOUT, encoding="utf-8") as source:
            self.available_layouts[RU_LAYOUT] = json.load(source)
        self.font_size = 30
        self.margin_hint = [0.02, 0.01, 0.02, 0.01]
        self.key_margin = [3, 3, 3, 3]
        self._resize = Clock.create_trigger(self._refresh_geometry)
        self.fbind("size", self._resize)
        self.fbind("pad", self._on_pad)
        self._on_pad(self, self.pad)

    def setup_mode_free(self) -> None:
        """Stay put: no dragging, rotating or pinching the keyboard away."""
        self.do_translation = False
        self.do_rotation = False
        self.do_scale = False

    def change_layout(self) -> None:
        """The EN/RU key: switch between Cyrillic and Latin (Kivy's own method does nothing)."""
        self.pad = SWITCH.get(self.pad, self.pad)

    def _layout_name(self, pad: str) -> str:
        return RU_LAYOUT if pad == "ru" else pad

    def _on_pad(self, _instance: Any, pad: str) -> None:
        name = self._layout_name(pad)
        layout = self.available_layouts[name]
        self.have_shift = False
        self.have_capslock = False
        self.layout = name
        self.size = (layout["cols"] * KEY_WIDTH.get(pad, 98), layout["rows"] * KEY_HEIGHT)

    def _refresh_geometry(self, *_args: Any) -> None:
        if self.layout in self.available_layouts:
            self.refresh(True)

    def key_centre(self, label: str) -> tuple[float, float]:
        """Window coordinates of the centre of the key labelled ``label`` (for tests and tools)."""
        layout = self.available_layouts[self.layout]
        for line in range(1, layout["rows"] + 1):
            keys = layout[f"{self.layout_mode}_{line}"]
            for index, key in enumerate(keys):
                if key[0] == label:
                    (x, y), (w, h) = self.layout_geometry[f"LINE_{line}"][index]
                    point: tuple[float, float] = self.to_window(x + w / 2, y + h / 2, initial=False)
                    return point
        raise KeyError(label)
