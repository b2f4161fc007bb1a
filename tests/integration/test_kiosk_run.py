"""``osago-kiosk run`` as systemd runs it: the default config (every device on its simulator),
one ``ready`` line when the attract screen is drawn, READY=1 and watchdog pings on NOTIFY_SOCKET,
and a clean STOPPING=1 / exit 0 on SIGTERM (SDL turns it into a close request the kiosk lets through);
and, under Xvfb, that the pings really come from the UI loop: a frozen loop (the start-up-only test seam
``OSAGO_UI_TEST_FREEZE_AFTER``) stops them.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.xvfb import start_xvfb

pytestmark = pytest.mark.integration

OSAGO = Path(sys.executable).with_name("osago-kiosk")


def test_run_logs_ready_notifies_systemd_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        OSAGO_DATA__DIR=str(tmp_path / "data"),
        SDL_VIDEODRIVER="offscreen",
        NOTIFY_SOCKET=str(tmp_path / "notify.sock"),
        WATCHDOG_USEC="1000000",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen([str(OSAGO), "run"], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        began = time.monotonic()
        ready_lines = []
        for line in proc.stderr:
            if "ready" in line:
                ready_lines.append(line)
                break
            assert time.monotonic() - began < 60, "no ready line within 60 s"
        assert ready_lines and "attract screen shown" in ready_lines[0]
        messages = [notify.recv(4096).decode() for _ in range(3)]
        assert any(m.startswith("READY=1") for m in messages)
        assert messages.count("WATCHDOG=1") >= 1
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(30) == 0, rest
        tail = []
        notify.settimeout(2)
        try:
            while True:
                tail.append(notify.recv(4096).decode())
        except TimeoutError:
            pass
        assert "STOPPING=1" in tail
        assert "ready" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


@pytest.fixture
def x_display() -> Iterator[str]:
    """A private Xvfb: the real UI under a real X server (skips where Xvfb is not installed)."""
    started = start_xvfb()
    if started is None:
        pytest.skip("Xvfb is not installed")
    proc, display = started
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(5)


def test_a_frozen_ui_loop_stops_the_watchdog_pings_and_they_resume_when_it_thaws(
    tmp_path: Path, x_display: str
) -> None:
    """GIVEN the kiosk under Xvfb with a 1 s systemd watchdog (pings every 0.5 s from a Kivy Clock interval)
    WHEN the test seam blocks the UI thread for 3 s, 1 s after ready
    THEN no ping arrives for longer than the watchdog interval (systemd would restart the kiosk),
    and pings resume once the loop runs again."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(1)
    env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "WATCHDOG_PID")}
    env.update(
        DISPLAY=x_display,
        OSAGO_DATA__DIR=str(tmp_path / "data"),
        NOTIFY_SOCKET=str(tmp_path / "notify.sock"),
        WATCHDOG_USEC="1000000",
        OSAGO_UI_TEST_FREEZE_AFTER="1",
        OSAGO_UI_TEST_FREEZE_SECONDS="3",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen([str(OSAGO), "run"], env=env, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    assert proc.stderr is not None
    drain = threading.Thread(target=lambda: log.extend(proc.stderr or ()), daemon=True)
    drain.start()
    try:
        pings: list[float] = []
        ready_at = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                message = notify.recv(4096).decode()
            except TimeoutError:
                continue
            now = time.monotonic()
            if message.startswith("READY=1"):
                ready_at = now
            if "WATCHDOG=1" in message.split("\n") and ready_at is not None:
                pings.append(now)
            if ready_at is not None and now - ready_at > 7:
                break
        assert ready_at is not None, "".join(log)
        gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
        frozen = max(gaps)
        assert frozen > 1.0 + 1.5, f"longest ping gap {frozen:.2f} s: {gaps}"
        where = gaps.index(frozen)
        assert all(gap < 1.0 for gap in gaps[:where]), f"pings were late before the freeze: {gaps}"
        assert len(gaps) - where - 1 >= 3 and all(gap < 1.0 for gap in gaps[where + 1 :]), f"no resumption: {gaps}"
        assert any("TEST SEAM" in line for line in log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        drain.join(5)
        notify.close()
