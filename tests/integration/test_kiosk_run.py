"""``osago-kiosk run`` as systemd runs it: the default config (every device on its simulator),
one ``ready`` line when the attract screen is drawn, READY=1 and watchdog pings on NOTIFY_SOCKET,
and a clean STOPPING=1 / exit 0 on SIGTERM (SDL turns it into a close request the kiosk lets through).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
