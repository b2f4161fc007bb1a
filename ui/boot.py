"""Kivy's environment and kiosk-mode configuration; must run before the first ``import kivy``.

Kivy reads its environment when imported and its window settings when the window is created, so
``configure_kivy`` sets both before either happens. Kiosk mode: fullscreen, borderless, no cursor,
ESC does not quit, no red multitouch-emulation dots, no screensaver. Windowed developer mode keeps
everything else but opens a normal window.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kiosk.config import UiSection

__all__ = ["configure_kivy", "prepare_environment"]


def prepare_environment(kivy_home: Path) -> None:
    """Environment Kivy reads at import: no argv parsing, its config under the data dir, logs to stderr."""
    kivy_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_HOME", str(kivy_home))
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # With the default log mode uncaught tracebacks vanish into Kivy's logger; MIXED prints them.
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    os.environ.setdefault("KCFG_KIVY_LOG_LEVEL", "warning")


def configure_kivy(ui: UiSection, *, windowed: bool, kivy_home: Path) -> None:
    """Apply ``[ui]`` (or the windowed developer mode) to Kivy's Config before the window exists."""
    if "kivy.core.window" in sys.modules:
        return  # already configured (the window reads these once)
    prepare_environment(kivy_home)
    from kivy.config import Config

    kiosk = not windowed
    Config.set("kivy", "exit_on_escape", "1" if ui.exit_on_escape and windowed else "0")
    # Our pads live inside the screens; a hardware keyboard (developer mode) still types.
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("graphics", "fullscreen", "auto" if kiosk and ui.fullscreen else "0")
    Config.set("graphics", "borderless", "1" if kiosk and ui.borderless else "0")
    Config.set("graphics", "show_cursor", "1" if windowed or ui.show_cursor else "0")
    Config.set("graphics", "allow_screensaver", "0")
    Config.set("graphics", "width", str(ui.width))
    Config.set("graphics", "height", str(ui.height))
    Config.set("graphics", "resizable", "1" if windowed else "0")
    Config.set("input", "mouse", "mouse" if ui.multitouch_emulation else "mouse,disable_multitouch")
