"""Backend for ``sim://terminal``: the simulator as a child process, reached by the real ZVT ECR.

``open_backend`` starts ``python -m drivers.payment.simulator --pty …`` (or ``--tcp 127.0.0.1:0``
with ``transport=tcp``), reads where it listens from its first stdout line, opens the real serial
(or TCP) backend there, and stops the child when the terminal is closed.

The child dies with the process that started it, however that one ends (SIGKILL included): its
standard input is a pipe only we hold (``--watch-stdin``: EOF means we are gone), and when started from
the main thread it also asks Linux for a signal at our death (``--die-with-parent``; the kernel ties
that to the starting *thread*, so a worker thread that ends must not use it). The ledger is locked by
the child, so a kiosk restarted at once waits for its old simulator to let go instead of sharing it.

Simulator options in the URL: scenario, ledger, think (s), baudrate, control, terminal_id,
terminal_status (hex), reask (s), naks, bad_crcs, drop_pause (s), print_mode (auto | lines | blocks),
full_pan, sim_t2 (s), sim_currency (the terminal's own currency), sim_charset (its configured receipt
charset), transport (pty | tcp). Everything else is a common ZVT option (see ``drivers.payment.url``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import threading
from typing import Any

from drivers.payment.ecr import ZvtTerminal
from drivers.payment.errors import TerminalError
from drivers.payment.url import TerminalUrl, common_options, reject_unknown

log = logging.getLogger(__name__)

START_TIMEOUT = 15.0
_FLAGS = {
    "scenario": "--scenario",
    "ledger": "--ledger",
    "think": "--think-time",
    "control": "--control",
    "terminal_id": "--terminal-id",
    "terminal_status": "--terminal-status",
    "reask": "--reask-delay",
    "naks": "--naks",
    "bad_crcs": "--bad-crcs",
    "drop_pause": "--drop-pause",
    "print_mode": "--print-mode",
    "sim_t2": "--t2",
    "sim_currency": "--currency",
    "sim_charset": "--charset",
}


class SimulatorProcess:
    """A running simulator child process and where it listens."""

    def __init__(self, argv: list[str]) -> None:
        argv = [*argv, "--watch-stdin"]
        if threading.current_thread() is threading.main_thread():
            argv += ["--die-with-parent", str(os.getpid())]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line:
            self.stop()
            raise TerminalError(f"terminal simulator did not start: {' '.join(argv)}")
        self.address = line

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 5 s; always reaped."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def simulator_argv(params: dict[str, str], transport: str, baudrate: int) -> list[str]:
    """The child's command line from (and consuming) the simulator options of a sim:// URL."""
    argv = [sys.executable, "-m", "drivers.payment.simulator"]
    argv += ["--pty"] if transport == "pty" else ["--tcp", "127.0.0.1:0"]
    argv += ["--baudrate", str(baudrate if transport == "pty" else 0)]
    for key, flag in _FLAGS.items():
        if key in params:
            argv += [flag, params.pop(key)]
    if params.pop("full_pan", "0").lower() in ("1", "true", "yes", ""):
        argv.append("--full-pan")
    return argv


def open_backend(url: TerminalUrl, **kw: Any) -> ZvtTerminal:
    """``open_terminal`` for sim://terminal."""
    if url.netloc != "terminal":
        raise ValueError(f"the payment simulator URL is sim://terminal, not {url.raw!r}")
    params = dict(url.params)
    transport = params.pop("transport", "pty")
    if transport not in ("pty", "tcp"):
        raise ValueError("transport is pty or tcp")
    baudrate = int(params.pop("baudrate", "9600"))
    argv = simulator_argv(params, transport, baudrate)
    options = common_options(params, kw)
    reject_unknown(url, params)
    child = SimulatorProcess(argv)
    try:
        if transport == "pty":
            from drivers.payment.zvt_serial import open_serial

            return open_serial(child.address, baudrate, on_close=child.stop, **options)
        from drivers.payment.link import TcpLink
        from drivers.payment.ports import SocketPort

        host, _, port = child.address.rpartition(":")
        return ZvtTerminal(
            TcpLink(SocketPort.connect(host, int(port)), options.get("timing")),
            on_close=child.stop,
            **options,
        )
    except BaseException:
        child.stop()
        raise
