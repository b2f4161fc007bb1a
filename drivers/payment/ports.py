"""Byte ports: the minimal transport surface the ZVT links need, with stdlib implementations.

A port reads "whatever is there, waiting at most ``timeout`` for the first byte" and writes all it is
given. ``LinkClosedError`` means the other side is gone (pty hang-up, socket EOF). The pyserial adapter
lives in ``drivers.payment.zvt_serial`` so importing this module never imports pyserial.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import time
from typing import Protocol

from drivers.payment.errors import LinkClosedError, TransportError

SERIAL_BITS_PER_BYTE = 11  # 8N2: start + 8 data + 2 stop bits (the ZVT line setting)


class BytePort(Protocol):
    """What a ZVT link needs from a transport."""

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes; b"" if nothing arrived within ``timeout`` seconds."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class LinePacer:
    """Makes a pty behave like a serial line of a given baud rate (a pty has none).

    Writes are released no faster than ``baudrate / bits_per_byte`` bytes per second; reads are held
    back until the line could have delivered them. Both directions keep their own clock, so sustained
    traffic matches the wire time while idle gaps cost nothing.
    """

    def __init__(self, baudrate: int, bits_per_byte: int = SERIAL_BITS_PER_BYTE) -> None:
        if baudrate <= 0:
            raise ValueError("baudrate must be positive")
        self.byte_time = bits_per_byte / baudrate
        self._tx_clock = 0.0
        self._rx_clock = 0.0

    def tx_slots(self, count: int) -> float:
        """Reserve ``count`` byte times on the transmit side; returns when the last one ends."""
        self._tx_clock = max(self._tx_clock, time.monotonic()) + count * self.byte_time
        return self._tx_clock

    def rx_arrival(self, count: int) -> float:
        """When ``count`` bytes read now would have finished arriving."""
        self._rx_clock = max(self._rx_clock, time.monotonic() - self.byte_time) + count * self.byte_time
        return self._rx_clock


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class FdPort:
    """A port over a file descriptor (the simulator's pty master), optionally paced at a baud rate.

    On Linux a pty master reports EIO/POLLHUP while no process has the slave open: that is a
    hang-up (``LinkClosedError``); the simulator then waits for the next connection with ``wait_connected``.
    """

    CHUNK = 16  # bytes written per paced step: smooth enough at 9600 baud, few syscalls

    def __init__(self, fd: int, pacer: LinePacer | None = None) -> None:
        self.fd = fd
        self.pacer = pacer
        os.set_blocking(fd, False)

    def read(self, size: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = os.read(self.fd, size)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:
                raise LinkClosedError("pty hung up") from exc
            raise TransportError(f"pty read failed: {exc}") from exc
        if not data:
            raise LinkClosedError("pty hung up")
        if self.pacer is not None:
            _sleep_until(self.pacer.rx_arrival(len(data)))
        return data

    def write(self, data: bytes) -> None:
        step = self.CHUNK if self.pacer is not None else len(data) or 1
        for start in range(0, len(data), step):
            chunk = data[start : start + step]
            if self.pacer is not None:
                # Deliver each chunk when its last byte would have left the wire, never earlier.
                _sleep_until(self.pacer.tx_slots(len(chunk)))
            self._write_all(chunk)

    def _write_all(self, data: bytes) -> None:
        deadline = time.monotonic() + 2.0
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                if exc.errno == errno.EIO:
                    raise LinkClosedError("pty hung up") from exc
                raise TransportError(f"pty write failed: {exc}") from exc
            view = view[written:]
            if view:
                if time.monotonic() > deadline:
                    raise LinkClosedError("nobody reads the pty")
                select.select([], [self.fd], [], 0.05)

    def discard_input(self) -> None:
        """Drop bytes a vanished peer left behind."""
        try:
            while os.read(self.fd, 4096):
                pass
        except OSError:
            pass

    def wait_connected(self, timeout: float) -> bool:
        """True once a process has the pty slave open (the master stops reporting hang-up)."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        deadline = time.monotonic() + timeout
        while True:
            events = poller.poll(0)
            if not any(mask & select.POLLHUP for _, mask in events):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class SocketPort:
    """A port over a connected TCP socket (ZVT over TCP, port 20007)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 5.0) -> SocketPort:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise TransportError(f"cannot connect to {host}:{port}: {exc}") from exc
        return cls(sock)

    def read(self, size: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self.sock], [], [], max(timeout, 0.0))
        if not ready:
            return b""
        try:
            data = self.sock.recv(size)
        except OSError as exc:
            raise LinkClosedError(f"socket closed: {exc}") from exc
        if not data:
            raise LinkClosedError("peer closed the connection")
        return data

    def write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise LinkClosedError(f"socket closed: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
