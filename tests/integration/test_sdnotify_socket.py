"""sd_notify over a fake NOTIFY_SOCKET (a bound AF_UNIX datagram socket, path or abstract).

GIVEN a receiver standing in for systemd, WHEN the kiosk notifies, THEN READY, STATUS (UTF-8),
pings and STOPPING arrive; and a UI loop that freezes stops the pings until it runs again.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.sdnotify import Notifier, Watchdog

pytestmark = pytest.mark.integration


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket and the NOTIFY_SOCKET value that reaches it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
        value = address
    else:
        name = f"osago-test-{secrets.token_hex(6)}"
        sock.bind("\0" + name)
        value = "@" + name
    sock.settimeout(5)
    yield sock, value
    sock.close()


def test_ready_status_pings_and_stopping_reach_the_socket(receiver: tuple[socket.socket, str]) -> None:
    sock, address = receiver
    watchdog = Watchdog(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())})

    watchdog.ready(status="Киоск готов: экран ожидания")
    watchdog.stopping()

    assert watchdog.interval == 0.5
    assert sock.recv(4096).decode() == "READY=1\nSTATUS=Киоск готов: экран ожидания"
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096) == b"STOPPING=1"


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})

    assert notifier.ready() is False


UI_LOOP = textwrap.dedent(
    """
    import signal, sys, time
    from kiosk.sdnotify import Watchdog

    def freeze(signum, frame):
        time.sleep(2.0)  # a blocking callback on the UI thread

    def leave(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGUSR1, freeze)
    signal.signal(signal.SIGTERM, leave)
    watchdog = Watchdog()
    watchdog.ready()
    try:
        while True:
            watchdog.tick()
            time.sleep(watchdog.interval / 4)
    finally:
        watchdog.stopping()
    """
)


def test_a_frozen_ui_loop_stops_the_pings_until_it_runs_again(
    receiver: tuple[socket.socket, str], repo_root: Path
) -> None:
    sock, address = receiver
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000", "PYTHONPATH": str(repo_root)}
    # systemd sets WATCHDOG_PID to the service's main PID: exec keeps the shell's PID for Python.
    ui = subprocess.Popen(["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', sys.executable, "-c", UI_LOOP], env=env)
    received: list[tuple[float, bytes]] = []
    try:

        def collect(until: float) -> None:
            while time.monotonic() < until:
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    continue
                received.append((time.monotonic(), data))

        sock.settimeout(0.5)
        collect(time.monotonic() + 1.0)
        frozen_at = time.monotonic()
        ui.send_signal(signal.SIGUSR1)
        collect(time.monotonic() + 3.0)
        ui.send_signal(signal.SIGTERM)
        collect(time.monotonic() + 1.0)
        assert ui.wait(timeout=5) == 0
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait()

    messages = [data for _, data in received]
    pings = [at for at, data in received if data == b"WATCHDOG=1"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    assert messages[0] == b"READY=1"
    assert messages[-1] == b"STOPPING=1"
    assert len([at for at in pings if at < frozen_at]) >= 4
    # Interval 0.2 s; the 2 s freeze leaves one gap far beyond WATCHDOG_USEC: systemd would restart.
    assert max(gaps) > 1.8
    assert sorted(gaps)[-2] < 0.4
    assert any(at > frozen_at + 2.0 for at in pings), "pings resume when the loop runs again"
