"""systemd's notify protocol (sd_notify) and a ``Watchdog`` the UI loop ticks.

Standard library only: one ``AF_UNIX`` datagram of newline-separated ``KEY=VALUE`` lines to
``$NOTIFY_SOCKET`` (a path, or an abstract name written with a leading ``@``). Outside systemd
(no ``NOTIFY_SOCKET``) every call is a no-op. Why not the ``sdnotify`` package (0.3.2, 2017): it
encodes Latin-1 and swallows the error, so a ``STATUS=`` with Cyrillic text silently sends nothing
(checked), and it has no watchdog logic; what we need around it is bigger than it is.

Watchdog rules, after ``sd_watchdog_enabled(3)``: enabled when ``WATCHDOG_USEC`` is a positive integer
and ``WATCHDOG_PID`` is unset or names this process — or its parent, for a UI started by a compositor
(cage) with ``NotifyAccess=all``, where systemd's main PID is the compositor. Pings are sent every
``WATCHDOG_USEC / 2``, and only from ``Watchdog.tick()``, which the UI loop calls: a frozen loop
stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

__all__ = ["Notifier", "Watchdog", "watchdog_interval"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to ``$NOTIFY_SOCKET`` (read from ``env`` once, at construction)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        if address and address[0] not in ("/", "\0"):
            log.warning("NOTIFY_SOCKET %r is neither a path nor an abstract name; not notifying", address)
            address = ""
        self.address = address
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """There is a notify socket to talk to."""
        return bool(self.address)

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram (keys upper-case); True if sent.

        Failures are logged, never raised: a notification must not take the kiosk down.
        """
        if not self.address:
            return False
        lines = []
        for key, value in fields.items():
            text = str(value)
            if "\n" in text:
                raise ValueError(f"{key}: a notification value is one line")
            lines.append(f"{key.upper()}={text}")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(lines).encode("utf-8"), self.address)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (and ``STATUS=``): the service is up (the attract screen is shown)."""
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        """``STATUS=``: a one-line state shown by ``systemctl status``."""
        return self.notify(STATUS=text)

    def stopping(self) -> bool:
        """``STOPPING=1``: the service is shutting down."""
        return self.notify(STOPPING=1)

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: still alive."""
        return self.notify(WATCHDOG=1)

    def close(self) -> None:
        """Release the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(
    env: Mapping[str, str] | None = None, *, pid: int | None = None, ppid: int | None = None
) -> float | None:
    """Seconds between pings (``WATCHDOG_USEC / 2``), or None when the watchdog is not for us."""
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner:
        try:
            owner_pid = int(owner)
        except ValueError:
            return None
        if owner_pid not in (os.getpid() if pid is None else pid, os.getppid() if ppid is None else ppid):
            return None
    return usec / 2_000_000


class Watchdog:
    """READY, pings and STOPPING for a UI loop: call ``tick()`` from the loop every ``interval`` seconds.

    ``tick()`` sends at most one ping per half interval, so calling it more often (every frame) is
    harmless. Without a systemd watchdog ``interval`` is None and ``tick()`` does nothing.
    """

    def __init__(
        self,
        notifier: Notifier | None = None,
        *,
        env: Mapping[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        pid: int | None = None,
        ppid: int | None = None,
    ) -> None:
        self.notifier = notifier or Notifier(env)
        self._interval = watchdog_interval(env, pid=pid, ppid=ppid) if self.notifier.enabled else None
        self._monotonic = monotonic
        self._last: float | None = None
        self.pings = 0

    @property
    def interval(self) -> float | None:
        """Seconds between ticks (``WATCHDOG_USEC / 2``), or None when there is no watchdog."""
        return self._interval

    def ready(self, status: str | None = None) -> None:
        """The UI is up: READY=1 and a first ping."""
        self.notifier.ready(status)
        self.tick()

    def tick(self) -> bool:
        """Ping if due; True when a ping was sent."""
        if self._interval is None:
            return False
        now = self._monotonic()
        if self._last is not None and now - self._last < self._interval / 2:
            return False
        if self.notifier.watchdog():
            self._last = now
            self.pings += 1
            return True
        return False

    def stopping(self) -> None:
        """The UI is closing."""
        self.notifier.stopping()
