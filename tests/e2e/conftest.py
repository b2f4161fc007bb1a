"""The touchscreen under a real X server (Xvfb) with real widgets and touches.

The environment is set *before* Kivy is first imported (here, at collection): a private Xvfb on a
free display when there is none (SDL's offscreen driver if Xvfb is missing), a throw-away KIVY_HOME,
density 1, and every .kv rule loaded now — rules loaded later inside a test would vanish with it.
Pattern: one window for the session, a fresh app per test started with ``_run_prepare`` and driven
with ``EventLoop.idle()`` (Kivy's own ``async_run`` is broken with pytest 9).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from kiosk.config import UiSection
from tests.support.xvfb import start_xvfb


def _start_xvfb() -> None:
    if os.environ.get("DISPLAY"):
        return
    started = start_xvfb()
    if started is None:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
        return
    proc, display = started
    os.environ["DISPLAY"] = display

    def stop() -> None:
        proc.terminate()
        proc.wait(5)

    atexit.register(stop)


_start_xvfb()
os.environ["KIVY_METRICS_DENSITY"] = "1"
os.environ["KIVY_DPI"] = "96"
_HOME = Path(tempfile.mkdtemp(prefix="osago-kivy-"))
atexit.register(shutil.rmtree, _HOME, True)

from ui.boot import configure_kivy  # noqa: E402

configure_kivy(UiSection(), windowed=True, kivy_home=_HOME)

from ui.app import load_rules  # noqa: E402

load_rules()

from tests.e2e.harness import *  # noqa: E402,F403
