"""Start the emupos ESC/POS emulator (its own Python >= 3.13 venv) on loopback ports, and talk to it.

One emupos process serves one device per printer profile under test; each profile gets an emupos
printer profile with the same paper width and the same ESC t number for PC866, so a wrong code page
or a too-wide line shows in emupos' text dump and PNG exactly as on that printer.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from drivers.printer.profiles import PrinterProfile

REPO = Path(__file__).resolve().parents[2]
EMUPOS = REPO / ".venv-emupos" / "bin" / "emupos"


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def emupos_profile_yaml(profile: PrinterProfile) -> str:
    """An emupos printer profile matching ours: width, fonts, and PC866 at our ESC t number."""
    char = profile.width_dots // profile.columns
    small = profile.width_dots // profile.columns_small
    return (
        "type: printer\n"
        f"name: {profile.name}\n"
        f"dpi: {profile.dpi}\n"
        f"width_dots: {profile.width_dots}\n"
        f"font_a: {{ width: {char}, height: 24 }}\n"
        f"font_b: {{ width: {small}, height: 17 }}\n"
        f"code_pages: {{ 0: PC437, {profile.code_page_number}: PC866 }}\n"
        "default_code_page: 0\n"
        "drawer_sensor_open_level: high\n"
    )


@dataclass
class Device:
    """One emulated printer: its id, TCP port and the profile it matches."""

    id: str
    port: int
    profile: PrinterProfile

    @property
    def url(self) -> str:
        return f"escpos+tcp://127.0.0.1:{self.port}?profile={self.profile.name}"


class Emupos:
    """A running emupos with one printer device per profile."""

    def __init__(self, workdir: Path, profiles: list[PrinterProfile]) -> None:
        self.workdir = workdir
        self.api_port = free_port()
        self.devices = {p.name: Device(p.name, free_port(), p) for p in profiles}
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return EMUPOS.exists()

    def start(self) -> Emupos:
        lines = ["schema: 1", f"api: {{ host: 127.0.0.1, port: {self.api_port} }}", "devices:"]
        for device in self.devices.values():
            profile_file = self.workdir / f"{device.id}.yaml"
            profile_file.write_text(emupos_profile_yaml(device.profile), encoding="utf-8")
            lines += [
                f"  - id: {device.id}",
                "    type: printer",
                f"    profile: {profile_file}",
                f"    connections: [ {{ tcp: {{ host: 127.0.0.1, port: {device.port} }} }} ]",
                f"    receipts_dir: {self.workdir / 'receipts'}",
                "    job_idle_timeout_ms: 1500",
            ]
        config = self.workdir / "emupos.yaml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log = (self.workdir / "emupos.log").open("wb")
        self.process = subprocess.Popen(
            [str(EMUPOS), "run", "--config", str(config)],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("emupos exited: " + (self.workdir / "emupos.log").read_text(errors="replace"))
            with contextlib.suppress(OSError):
                self._get("/health")
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("emupos did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    # --- control API ------------------------------------------------------------------------

    def _request(self, method: str, path: str) -> bytes:
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}/api/v1{path}", method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            body: bytes = response.read()
            return body

    def _get(self, path: str) -> bytes:
        return self._request("GET", path)

    def set_fault(self, device: str, fault: str, active: bool = True) -> None:
        self._request("PUT" if active else "DELETE", f"/devices/{device}/faults/{fault}")

    def clear_faults(self, device: str) -> None:
        for fault in ("paper-near-end", "paper-out", "cover-open", "offline"):
            self.set_fault(device, fault, active=False)

    def receipts(self, device: str) -> list[dict[str, object]]:
        result: list[dict[str, object]] = json.loads(self._get(f"/devices/{device}/receipts"))
        return result

    def wait_receipt(self, device: str, count: int, timeout: float = 10.0) -> dict[str, object]:
        """Wait until the device has ``count`` receipts; return the newest."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            receipts = self.receipts(device)
            if len(receipts) >= count:
                return receipts[0]
            time.sleep(0.05)
        raise TimeoutError(f"{device}: fewer than {count} receipts after {timeout} s")

    def text(self, device: str, receipt_id: str) -> str:
        return self._get(f"/devices/{device}/receipts/{receipt_id}/text").decode("utf-8")

    def image(self, device: str, receipt_id: str) -> bytes:
        return self._get(f"/devices/{device}/receipts/{receipt_id}/image")


def zbarimg(png: Path) -> list[str]:
    """Codes zbar finds in a PNG, as ``TYPE:data`` lines ([] when zbarimg is missing or finds none)."""
    tool = shutil.which("zbarimg")
    if tool is None:
        return []
    result = subprocess.run([tool, "--quiet", str(png)], capture_output=True, check=False, timeout=30)
    return result.stdout.decode("utf-8", errors="replace").splitlines()


__all__ = ["Device", "Emupos", "free_port", "urllib", "zbarimg"]
