"""Backend for ``zvt://`` and ``zvt+<pyserial scheme>://``: serial ZVT through pyserial.

This module imports pyserial; ``drivers.payment.open_terminal`` loads it by URL scheme, so nothing
else in the kiosk depends on pyserial.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

import serial

from drivers.payment.ecr import ZvtTerminal
from drivers.payment.errors import LinkClosedError, TransportError
from drivers.payment.link import SerialLink
from drivers.payment.url import TerminalUrl, common_options, reject_unknown

POLL_SLICE = 0.05  # read granularity for pyserial handlers without a file descriptor


class PySerialPort:
    """The ``BytePort`` over a pyserial object (native port, spy://, socket://, loop:// …)."""

    def __init__(self, ser: serial.Serial) -> None:
        self.ser = ser
        try:
            self._fd: int | None = ser.fileno()
            ser.timeout = 0  # select() waits; read() only takes what is there
        except (AttributeError, NotImplementedError, serial.SerialException):
            self._fd = None
            ser.timeout = POLL_SLICE

    def read(self, size: int, timeout: float) -> bytes:
        try:
            if self._fd is not None:
                ready, _, _ = select.select([self._fd], [], [], max(timeout, 0.0))
                if not ready:
                    return b""
                data: bytes = self.ser.read(size)
                if not data:
                    raise LinkClosedError("serial port returned no data (device gone?)")
                return data
            deadline = time.monotonic() + max(timeout, 0.0)
            while True:
                first: bytes = self.ser.read(1)
                if first:
                    waiting = self.ser.in_waiting
                    return first + (self.ser.read(min(waiting, size - 1)) if waiting else b"")
                if time.monotonic() >= deadline:
                    return b""
        except serial.SerialException as exc:
            raise LinkClosedError(f"serial read failed: {exc}") from exc

    def write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except (serial.SerialException, serial.SerialTimeoutException) as exc:
            raise LinkClosedError(f"serial write failed: {exc}") from exc

    def close(self) -> None:
        self.ser.close()


def serial_target(url: TerminalUrl, params: dict[str, str]) -> str:
    """The pyserial URL/port for a terminal URL; ``<variant>_<opt>`` options go to that handler."""
    if url.variant is None:
        if url.netloc:
            raise ValueError(f"zvt:// takes a device path (zvt:///dev/ttyUSB0), not a host: {url.raw!r}")
        return url.path
    prefix = url.variant + "_"
    handler = {k[len(prefix) :]: params.pop(k) for k in list(params) if k.startswith(prefix)}
    query = "&".join(f"{k}={v}" if v else k for k, v in handler.items())
    return f"{url.variant}://{url.netloc}{url.path}" + (f"?{query}" if query else "")


def open_serial(
    target: str,
    baudrate: int = 9600,
    stopbits: float = 2,
    on_close: Callable[[], None] | None = None,
    **kw: Any,
) -> ZvtTerminal:
    """Open a serial ZVT terminal on a pyserial port or URL (8 data bits, no parity, no handshake)."""
    try:
        ser = serial.serial_for_url(
            target,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=stopbits,
            xonxoff=False,
            rtscts=False,
            dsrdtr=False,
            exclusive=True if "://" not in target else None,
        )
    except (serial.SerialException, ValueError) as exc:
        raise TransportError(f"cannot open {target}: {exc}") from exc
    ser.reset_input_buffer()  # bytes left over from an earlier session are not ours
    port = PySerialPort(ser)
    timing = kw.get("timing")
    return ZvtTerminal(SerialLink(port, timing), on_close=on_close, **kw)


def open_backend(url: TerminalUrl, **kw: Any) -> ZvtTerminal:
    """``open_terminal`` for zvt:// and zvt+<handler>:// URLs."""
    params = dict(url.params)
    baudrate = int(params.pop("baudrate", "9600"))
    stopbits = float(params.pop("stopbits", "2"))
    if stopbits not in (1, 1.5, 2):
        raise ValueError("stopbits is 1, 1.5 or 2")
    target = serial_target(url, params)
    options = common_options(params, kw)
    reject_unknown(url, params)
    return open_serial(target, baudrate, stopbits, **options)
