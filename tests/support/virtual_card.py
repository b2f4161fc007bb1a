"""A virtual service card on vsmartcard's vpcd: the tests' card for the real PC/SC stack.

TESTS ONLY — never installed on a kiosk. The card is ``drivers.cardreader.simcard.SimulatedServiceCard``
(our applet) served with ``drivers.cardreader.vpcd.serve_card`` over a TCP connection to vpcd on
127.0.0.1. Connecting *is* inserting the card; closing the connection removes it.

vpcd listens on 0.0.0.0 (it cannot be told otherwise). The ``pcscd`` fixture therefore runs its own
pcscd in a private network namespace holding only a loopback interface, and ``VpcdEndpoint`` creates
the card's socket inside that namespace (``setns`` in a short-lived helper thread), so nothing is
reachable from the network while the tests run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from drivers.cardreader.vpcd import VpcdCard, serve_card

__all__ = ["VirtualCard", "VpcdEndpoint", "listening_ports", "tcp_sockets"]

CLONE_NEWNET = 0x40000000
_LISTEN = "0A"
LOOPBACK = "127.0.0.1"


def tcp_sockets(pid: int | None = None) -> list[tuple[int, str]]:
    """(local port, state code) of every TCP socket in the network namespace of ``pid`` (default: ours)."""
    found: list[tuple[int, str]] = []
    for table in ("tcp", "tcp6"):
        path = f"/proc/{pid}/net/{table}" if pid else f"/proc/net/{table}"
        try:
            lines = Path(path).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3:
                found.append((int(fields[1].rsplit(":", 1)[1], 16), fields[3]))
    return found


def listening_ports(pid: int | None = None) -> set[int]:
    """TCP ports in LISTEN state in the network namespace of ``pid``, read from /proc.

    This is how we wait for vpcd: connecting to probe it would insert a card.
    """
    return {port for port, state in tcp_sockets(pid) if state == _LISTEN}


@dataclass(frozen=True)
class VpcdEndpoint:
    """Where vpcd waits for cards: a port on loopback, in ``netns_pid``'s network namespace (or ours)."""

    port: int
    netns_pid: int | None = None

    def socket(self) -> socket.socket:
        """A TCP socket created inside vpcd's network namespace."""
        if self.netns_pid is None:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        made: list[socket.socket] = []
        errors: list[BaseException] = []

        def enter_and_create() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            try:
                with contextlib.ExitStack() as fds:
                    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
                    fds.callback(os.close, own)
                    target = os.open(f"/proc/{self.netns_pid}/ns/net", os.O_RDONLY)
                    fds.callback(os.close, target)
                    if libc.setns(target, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns into vpcd's network namespace failed")
                    try:
                        made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    finally:
                        if libc.setns(own, CLONE_NEWNET) != 0:
                            raise OSError(ctypes.get_errno(), "setns back failed")
            except BaseException as exc:
                errors.append(exc)

        # A thread of its own: setns changes only the calling thread, which then ends.
        helper = threading.Thread(target=enter_and_create, name="vpcd-netns")
        helper.start()
        helper.join()
        if errors:
            raise errors[0]
        return made[0]


class VirtualCard:
    """A card that can be inserted into and removed from vpcd's slot, any number of times.

    ``endpoint`` may be a callable, asked at each insertion (pcscd restarted in a new namespace).
    """

    def __init__(self, card: VpcdCard, endpoint: VpcdEndpoint | Callable[[], VpcdEndpoint]) -> None:
        self.card = card
        self._endpoint = endpoint
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._endpoint_used: VpcdEndpoint | None = None

    @property
    def inserted(self) -> bool:
        """The card is connected to vpcd (and vpcd has not hung up)."""
        return self._thread is not None and self._thread.is_alive()

    def insert(self) -> None:
        """Connect to vpcd (which waits for it) and serve APDUs in a thread."""
        if self.inserted:
            raise RuntimeError("the card is already inserted")
        self.remove()
        endpoint = self._endpoint() if callable(self._endpoint) else self._endpoint
        sock = endpoint.socket()
        try:
            sock.connect((LOOPBACK, endpoint.port))
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._endpoint_used = endpoint
        self._thread = threading.Thread(target=serve_card, args=(sock, self.card), name="virtual-card", daemon=True)
        self._thread.start()

    def remove(self, *, timeout: float = 5.0) -> None:
        """Pull the card: close the connection, then wait until vpcd has noticed (closed its end).

        Without the wait, a card inserted at once would be taken by pcscd for the old card still
        present (vpcd accepts the new connection in the same presence poll), and no event fires.
        """
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._endpoint_used is not None:
            endpoint, self._endpoint_used = self._endpoint_used, None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._vpcd_still_connected(endpoint):
                time.sleep(0.02)

    @staticmethod
    def _vpcd_still_connected(endpoint: VpcdEndpoint) -> bool:
        if endpoint.netns_pid is not None and not Path(f"/proc/{endpoint.netns_pid}").exists():
            return False
        return any(port == endpoint.port and state != _LISTEN for port, state in tcp_sockets(endpoint.netns_pid))

    def __enter__(self) -> VirtualCard:
        self.insert()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()
