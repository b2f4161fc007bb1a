"""A pcscd for the tests: the machine's own if one runs, else one we start (and stop) ourselves.

Only one pcscd can run per machine (its socket path is compiled in), so the tests that use it are
marked ``serial_only``. Ours runs as ``pcscd --foreground`` in a private network namespace with only
a loopback interface (``unshare --net``), so vpcd's card port, which binds 0.0.0.0, is reachable from
nowhere but that namespace. vpcd's port and reader name come from its reader.conf.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.virtual_card import VpcdEndpoint, listening_ports

__all__ = ["PcscdService", "PcscdUnavailableError", "VpcdConfig", "find_vpcd_config"]

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER_CONF_DIR = Path("/etc/reader.conf.d")


class PcscdUnavailableError(RuntimeError):
    """The PC/SC tests cannot run here; the message says why (used as the skip reason)."""


@dataclass(frozen=True)
class VpcdConfig:
    """vpcd's reader as reader.conf declares it."""

    friendly_name: str
    port: int

    @property
    def reader_name(self) -> str:
        """The name pcscd gives slot 0 of this reader."""
        return f"{self.friendly_name} 00 00"


def find_vpcd_config(conf_dir: Path = READER_CONF_DIR) -> VpcdConfig:
    """Parse the reader.conf entry whose LIBPATH is vpcd's driver."""
    for path in sorted(conf_dir.glob("*")) if conf_dir.is_dir() else []:
        entry: dict[str, str] = {}
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.strip()
            if line and not line.startswith("#") and len(line.split(None, 1)) == 2:
                key, value = line.split(None, 1)
                entry[key.upper()] = value.strip().strip('"')
        if "libifdvpcd" not in entry.get("LIBPATH", ""):
            continue
        device = entry.get("DEVICENAME", "")
        host, _, port = device.partition(":")
        if host != "/dev/null":
            raise PcscdUnavailableError(f"{path}: vpcd is in reversed mode ({device}); the tests need /dev/null:PORT")
        return VpcdConfig(entry.get("FRIENDLYNAME", "Virtual PCD"), int(port or entry.get("CHANNELID", "0x8C7B"), 0))
    raise PcscdUnavailableError(f"no vpcd reader in {conf_dir} (Debian package vsmartcard-vpcd)")


def _running_pcscd() -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, state = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :][:1]
            if name == "pcscd" and state not in ("Z", "X"):
                return int(entry.name)
    return None


def _can_unshare_net() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, check=False)
    return probe.returncode == 0


class PcscdService:
    """The pcscd the tests talk to. ``owned`` is False when the machine's own pcscd is used."""

    def __init__(self, log_path: Path, *, startup_timeout: float = 10.0) -> None:
        pcscd = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)
        if pcscd is None:
            raise PcscdUnavailableError("pcscd is not installed (Debian package pcscd)")
        if not VPCD_DRIVER.exists():
            raise PcscdUnavailableError(f"the vpcd driver {VPCD_DRIVER} is missing (Debian package vsmartcard-vpcd)")
        self.vpcd = find_vpcd_config()
        self._pcscd = pcscd
        self._log_path = log_path
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.isolated = False
        existing = _running_pcscd()
        self.owned = existing is None
        if self.owned:
            if os.geteuid() != 0:
                raise PcscdUnavailableError("no pcscd is running and starting one needs root")
            self.isolated = _can_unshare_net()
            self.start()
        else:
            self._wait_for_vpcd(existing)
            self._pid = existing

    @property
    def endpoint(self) -> VpcdEndpoint:
        """Where a virtual card connects (inside pcscd's network namespace when it is not ours)."""
        own = os.stat("/proc/self/ns/net").st_ino
        theirs = os.stat(f"/proc/{self._pid}/ns/net").st_ino
        return VpcdEndpoint(self.vpcd.port, self._pid if theirs != own else None)

    @property
    def reader_name(self) -> str:
        """vpcd's first slot."""
        return self.vpcd.reader_name

    def start(self) -> None:
        """Start our pcscd and wait until vpcd listens."""
        command = [self._pcscd, "--foreground"]
        if os.environ.get("OSAGO_PCSCD_DEBUG"):
            command += ["--debug", "--apdu"]
        if self.isolated:
            command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *command]
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._log = log
        self._pid = self._proc.pid
        self._wait_for_vpcd(self._pid)

    def _wait_for_vpcd(self, pid: int) -> None:
        deadline = time.monotonic() + self._timeout
        while self.vpcd.port not in listening_ports(pid):
            if self._proc is not None and self._proc.poll() is not None:
                raise PcscdUnavailableError(f"pcscd exited with {self._proc.returncode}; see {self._log_path}")
            if time.monotonic() > deadline:
                raise PcscdUnavailableError(f"vpcd did not listen on port {self.vpcd.port} within {self._timeout} s")
            time.sleep(0.02)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Take our pcscd down hard (as a crash would)."""
        if not self.owned or self._proc is None:
            raise PcscdUnavailableError("the machine's own pcscd is in use; the tests do not kill it")
        self._proc.send_signal(sig)
        self._proc.wait(timeout=10)
        self._log.close()
        self._proc = None

    def stop(self) -> None:
        """Stop our pcscd (nothing happens to a pcscd we did not start)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._log.close()
        self._proc = None
