"""The real backend: python-escpos 3.1 transports (TCP, serial, USB, file) under our own status reader.

python-escpos sends the bytes; status is read through a ``StatusTransport`` on the same connection
with short timeouts, never with 3.1's ``is_online()``/``paper_status()`` (which fail open, and on
serial wait a full second per query). The connection opens lazily and is reopened after an error,
so a printer that was off when the kiosk started is found once it is back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import stat
import time
from collections.abc import Callable
from typing import Any

from drivers.printer import PrinterURL
from drivers.printer.base import FormattingPrinter
from drivers.printer.errors import PrinterConnectionError, PrinterError, PrinterPathError, PrinterURLError
from drivers.printer.profiles import PrinterProfile
from drivers.printer.status import NO_STATUS_CHANNEL, StatusReader, StatusReport, StatusTransport, report_of

log = logging.getLogger(__name__)

DEFAULT_TCP_PORT = 9100
DEFAULT_IO_TIMEOUT = 3.0


# --- status transports over the connection python-escpos opened --------------------------------


class SocketTransport:
    """Status over the TCP socket of ``escpos.printer.Network``."""

    def __init__(self, sock: socket.socket, io_timeout: float) -> None:
        self._sock = sock
        self._io_timeout = io_timeout

    def send(self, data: bytes) -> None:
        self._sock.settimeout(self._io_timeout)
        self._sock.sendall(data)

    def receive(self, timeout: float) -> bytes:
        self._sock.settimeout(max(timeout, 0.001))
        try:
            data = self._sock.recv(64)
        except TimeoutError:
            return b""
        if not data:
            raise PrinterConnectionError("the printer closed the connection")
        return data

    def discard_input(self) -> None:
        self._sock.setblocking(False)
        try:
            while self._sock.recv(256):
                pass
        except BlockingIOError:
            pass
        finally:
            self._sock.settimeout(self._io_timeout)


class SerialTransport:
    """Status over the pyserial port of ``escpos.printer.Serial``: reads 1 byte, not 16 (report 1.5)."""

    def __init__(self, port: Any) -> None:
        self._port = port

    def send(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def receive(self, timeout: float) -> bytes:
        self._port.timeout = max(timeout, 0.001)
        data: bytes = self._port.read(1)
        if data and self._port.in_waiting:
            data += self._port.read(self._port.in_waiting)
        return data

    def discard_input(self) -> None:
        self._port.reset_input_buffer()


class UsbTransport:
    """Status over the bulk endpoints of ``escpos.printer.Usb`` (pyusb), with real timeouts."""

    def __init__(self, device: Any, in_ep: int, out_ep: int, io_timeout: float) -> None:
        self._device, self._in_ep, self._out_ep = device, in_ep, out_ep
        self._io_ms = int(io_timeout * 1000)

    def send(self, data: bytes) -> None:
        self._device.write(self._out_ep, data, self._io_ms)

    def receive(self, timeout: float) -> bytes:
        import usb.core

        try:
            return bytes(self._device.read(self._in_ep, 64, max(1, int(timeout * 1000))))
        except usb.core.USBTimeoutError:
            return b""

    def discard_input(self) -> None:
        for _ in range(8):  # bounded: a chatty printer must not hold the kiosk here
            if not self.receive(0.005):
                return


class DeviceFileTransport:
    """Bytes and status over one descriptor of a character device (e.g. ``/dev/usb/lp0``, whose usblp
    driver reads back); also the device python-escpos would be (``_raw``), so there is one descriptor."""

    def __init__(self, path: str, fd: int | None = None) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC) if fd is None else fd

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [self._fd], [], DEFAULT_IO_TIMEOUT)
            if not writable:
                raise PrinterConnectionError("the device file does not accept data")
            view = view[os.write(self._fd, view) :]

    _raw = send

    def receive(self, timeout: float) -> bytes:
        readable, _, _ = select.select([self._fd], [], [], max(timeout, 0))
        if not readable:
            return b""
        try:
            return os.read(self._fd, 64)
        except BlockingIOError:
            return b""

    def discard_input(self) -> None:
        while self.receive(0):
            pass

    def close(self) -> None:
        """Idempotent: the descriptor number is never closed twice (it may belong to someone else by then)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class SpoolFile:
    """A regular file that collects a printer's bytes: appended to through one descriptor, never truncated."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def _raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISBLK, "a block device")):  # fmt: skip
        if test(mode):
            return name
    return "not a device file"


def open_device_file(
    path: str, *, append: bool = False, own: set[tuple[int, int]] | None = None
) -> tuple[DeviceFileTransport | SpoolFile, DeviceFileTransport | None]:
    """Open an ``escpos+file://`` path without ever truncating or taking over a file that is not ours.

    * a character device: read and written on one non-blocking descriptor (status is read back);
    * no file: created (mode 0600, ``O_EXCL``) as this printer's spool;
    * a regular file: opened for append only (no ``O_TRUNC``). An existing non-empty file is someone
      else's unless ``append`` is set or it is a file this printer created or opened before
      (``own``: device and inode numbers, kept by the caller) — otherwise ``PrinterPathError``
      ``foreign_file``, and nothing is opened for writing;
    * a directory, FIFO, socket or block device: ``PrinterPathError`` ``not_a_printer`` (a FIFO is
      never opened: opening one for writing would block until someone reads it).

    The descriptor is checked again after opening (``fstat``), so a path swapped in between is refused.
    """
    own = set() if own is None else own
    try:
        before: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        before = None
    except OSError as exc:
        raise PrinterConnectionError(f"{path}: {exc.strerror}") from None
    if before is not None and stat.S_ISCHR(before.st_mode):
        transport = DeviceFileTransport(path)
        return transport, transport
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise PrinterPathError("not_a_printer", f"{path} is {_kind(before.st_mode)}, not a printer")
    if before is not None and before.st_size > 0 and not append and (before.st_dev, before.st_ino) not in own:
        raise PrinterPathError(
            "foreign_file",
            f"{path} is an existing file of {before.st_size} bytes, not this printer's spool "
            "(add append=1 to the URL to append to it)",
        )
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags | (os.O_CREAT | os.O_EXCL if before is None else 0), 0o600)
    except OSError as exc:
        raise PrinterConnectionError(f"{path}: {exc.strerror}") from None
    after = os.fstat(fd)
    swapped = before is not None and (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino)
    if not stat.S_ISREG(after.st_mode) or swapped:
        os.close(fd)
        raise PrinterPathError("not_a_printer", f"{path} changed while it was opened; not a printer")
    own.add((after.st_dev, after.st_ino))
    return SpoolFile(fd), None


# --- the printer --------------------------------------------------------------------------------


class EscposPrinter(FormattingPrinter):
    """A ``ReceiptPrinter`` on a python-escpos transport."""

    def __init__(
        self,
        connect: Callable[[], tuple[Any, StatusTransport | None]],
        profile: PrinterProfile,
        *,
        description: str,
        job_timeout: float | None = None,
    ) -> None:
        super().__init__(profile, job_timeout=job_timeout)
        self._connect = connect
        self._description = description
        self._device: Any = None
        self._reader: StatusReader | None = None
        self._transport: StatusTransport | None = None

    def __repr__(self) -> str:
        return f"EscposPrinter({self._description}, profile={self.profile.name})"

    def _open(self) -> Any:
        if self._device is None:
            try:
                self._device, self._transport = self._connect()
            except PrinterError:
                raise
            except Exception as exc:  # python-escpos raises its own DeviceNotFoundError, pyusb others
                raise PrinterConnectionError(f"cannot open printer {self._description}: {exc}") from exc
            self._reader = (
                None
                if self._transport is None
                else StatusReader(
                    self._transport,
                    timeout=self.profile.status_timeout,
                    extended=self.profile.extended_status,
                )
            )
        return self._device

    def _on_error(self) -> None:
        """Drop the connection so the next call reconnects."""
        self.close()

    def _send(self, data: bytes) -> None:
        device = self._open()
        try:
            device._raw(data)
        except OSError:
            self._on_error()
            raise

    def _read_status(self) -> StatusReport:
        self._open()
        if self._reader is None:
            return report_of([NO_STATUS_CHANNEL], {})
        try:
            return self._reader.read()
        except OSError:
            self._on_error()
            raise

    def _wait_printed(self, timeout: float) -> StatusReport:
        if self._reader is None:
            return report_of([NO_STATUS_CHANNEL], {})
        try:
            return self._reader.wait_printed(timeout)
        except OSError:
            self._on_error()
            raise

    def close(self) -> None:
        """Close the connection (idempotent)."""
        device, transport = self._device, self._transport
        self._device = self._transport = self._reader = None
        if isinstance(transport, DeviceFileTransport) and transport is not device:
            with contextlib.suppress(OSError):
                transport.close()
        if device is not None:
            with contextlib.suppress(Exception):
                device.close()


# --- opening by URL -----------------------------------------------------------------------------


def _int(value: str, what: str) -> int:
    try:
        if not value.isascii():
            raise ValueError(value)
        return int(value, 0)
    except ValueError:
        raise PrinterURLError(f"{what}={value!r} is not an integer") from None


def _parity(value: str) -> str:
    if value.upper() not in ("N", "E", "O", "M", "S"):
        raise PrinterURLError(f"parity={value!r}: one of N, E, O, M, S")
    return value.upper()


def tcp_connector(host: str, port: int, io_timeout: float) -> Callable[[], tuple[Any, StatusTransport]]:
    """Opens python-escpos' ``Network`` printer and a status transport on its socket."""

    def tcp() -> tuple[Any, StatusTransport]:
        from escpos import printer as escpos_printer

        device = escpos_printer.Network(host, port, timeout=io_timeout)
        device.open()
        return device, SocketTransport(device.device, io_timeout)

    return tcp


def _connector(url: PrinterURL, profile: PrinterProfile, io_timeout: float) -> Callable[[], tuple[Any, Any]]:
    from escpos import printer as escpos_printer

    kind = url.transport
    if kind == "tcp":
        return tcp_connector(url.host, url.port or DEFAULT_TCP_PORT, io_timeout)
    if kind == "serial":
        options = {
            "baudrate": _int(url.param("baudrate", "9600") or "9600", "baudrate"),
            "bytesize": _int(url.param("bytesize", "8") or "8", "bytesize"),
            "parity": _parity(url.param("parity", "N") or "N"),
            "stopbits": _int(url.param("stopbits", "1") or "1", "stopbits"),
            "xonxoff": url.param("xonxoff", "0") in ("1", "true"),
            "dsrdtr": url.param("dsrdtr", "0") in ("1", "true"),
        }

        def serial() -> tuple[Any, StatusTransport]:
            device = escpos_printer.Serial(url.path, timeout=io_timeout, **options)
            device.open()
            return device, SerialTransport(device.device)

        return serial
    if kind == "usb":
        vid, _, pid = url.host.partition(":")
        if not pid:
            raise PrinterURLError(f"{url.text}: USB needs VID:PID")
        in_ep = _int(url.param("in_ep", "0x82") or "0x82", "in_ep")
        out_ep = _int(url.param("out_ep", "0x01") or "0x01", "out_ep")

        def usb() -> tuple[Any, StatusTransport]:
            # timeout in ms: python-escpos' default 0 means "block for ever" in libusb (report 1.1).
            device = escpos_printer.Usb(
                _int(vid, "VID"), _int(pid, "PID"), timeout=int(io_timeout * 1000), in_ep=in_ep, out_ep=out_ep
            )
            device.open()
            return device, UsbTransport(device.device, in_ep, out_ep, io_timeout)

        return usb
    path = url.path
    append = url.flag("append")
    own: set[tuple[int, int]] = set()  # the spool this printer created or opened stays ours after a reopen

    def device_file() -> tuple[Any, StatusTransport | None]:
        return open_device_file(path, append=append, own=own)

    return device_file


def open_url(url: PrinterURL, **kw: Any) -> EscposPrinter:
    """Open ``escpos+tcp|serial|usb|file`` URLs (keywords override query parameters)."""
    profile: PrinterProfile = kw.pop("profile", None) or url.load_profile()
    io_timeout = float(kw.pop("timeout", url.number("timeout", DEFAULT_IO_TIMEOUT)))
    job_timeout = kw.pop("job_timeout", None) or (url.number("job_timeout", 0) or None)
    if kw:
        raise TypeError(f"unexpected options for {url.scheme}: {', '.join(kw)}")
    started = time.monotonic()
    printer = EscposPrinter(
        _connector(url, profile, io_timeout), profile, description=url.text, job_timeout=job_timeout
    )
    log.debug("printer %s prepared in %.3f s", url.text, time.monotonic() - started)
    return printer
