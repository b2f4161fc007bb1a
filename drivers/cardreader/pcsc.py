"""``pcsc://``: service cards through pcscd, with pyscard's low-level ``smartcard.scard`` API.

The watcher is our own thread, not pyscard's ``CardMonitor``: that monitor dies for good when pcscd
restarts (and Debian's pcscd is socket-activated and exits when idle). Ours establishes a context,
waits in ``SCardGetStatusChange`` on the readers plus pcsc-lite's PnP pseudo reader, and on any
service error reports every card as removed, releases the context and re-establishes it with
back-off (0.2 s doubling to ``backoff_max``).

Readers named ``Virtual PCD*`` (vsmartcard's network-reachable virtual reader) are ignored unless
configured explicitly (``?reader=Virtual PCD`` or ``allow_virtual``): on a kiosk a virtual reader
would let anyone on the network insert a card.

``api`` is the ``smartcard.scard`` module by default; unit tests pass a fake with the same functions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from drivers.cardreader import pcsc_codes as pc
from drivers.cardreader.applet import read_service_card, split_response, validate_challenge
from drivers.cardreader.errors import (
    CardCommunicationError,
    CardReaderError,
    CardRemovedError,
    NoCardError,
    ReaderUnavailableError,
)
from drivers.cardreader.protocol import CardAnswer, CardEvent, CardEventKind, EventCallback, ReaderStatus
from drivers.cardreader.url import ReaderURL

__all__ = ["VIRTUAL_READER_PREFIX", "PcscReader", "ReaderFilter", "open_url"]

log = logging.getLogger(__name__)

VIRTUAL_READER_PREFIX = "Virtual PCD"
_COUNTER_MASK = 0xFFFF0000


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReaderFilter:
    """Which readers the kiosk uses: a name prefix, and whether virtual readers count."""

    prefix: str | None = None
    allow_virtual: bool = False

    def accepts(self, name: str) -> bool:
        """True for a reader the kiosk may take service cards from."""
        if self.prefix is not None and not name.startswith(self.prefix):
            return False
        if name.startswith(VIRTUAL_READER_PREFIX):
            # Naming the virtual reader in the prefix is explicit configuration too.
            return self.allow_virtual or (self.prefix or "").startswith(VIRTUAL_READER_PREFIX)
        return True


def _error_for(what: str, hresult: int) -> CardReaderError:
    code = _code(hresult)
    text = f"{what}: {pc.describe(code)}"
    if code in pc.CARD_GONE:
        return CardRemovedError(text)
    if code in pc.SERVICE_LOST or code in (
        pc.SCARD_E_NO_READERS_AVAILABLE,
        pc.SCARD_E_READER_UNAVAILABLE,
        pc.SCARD_E_UNKNOWN_READER,
    ):
        return ReaderUnavailableError(text)
    return CardCommunicationError(text)


class _ContextLostError(Exception):
    def __init__(self, hresult: int) -> None:
        super().__init__(pc.describe(hresult))
        self.hresult = _code(hresult)


class PcscReader:
    """A ``ServiceCardReader`` on pcscd (see the module docstring)."""

    backend = "pcsc"

    def __init__(
        self,
        *,
        reader: str | None = None,
        allow_virtual: bool = False,
        poll: float = 0.5,
        backoff: tuple[float, float] = (0.2, 5.0),
        api: Any = None,
    ) -> None:
        if not 0.05 <= poll <= 10:
            raise ValueError("poll is the status-change wait, 0.05 to 10 seconds")
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError("backoff is (initial, maximum) seconds, 0 < initial <= maximum")
        self.filter = ReaderFilter(reader, allow_virtual)
        self._api: Any = api if api is not None else _default_api()
        self._poll_ms = int(poll * 1000)
        self._backoff = backoff
        self._callback: EventCallback | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._context: int | None = None
        # watcher bookkeeping, read by status() under _lock
        self._states: dict[str, int] = {}
        self._present: dict[str, bytes] = {}
        self._ignored: tuple[str, ...] = ()
        self._service = False
        self._contexts = 0
        self._last_error: str | None = None

    # --- ServiceCardReader ----------------------------------------------------------------------
    def start(self, on_event: EventCallback) -> None:
        """Start the watcher thread; cards already in are reported as inserted."""
        if self._thread is not None:
            raise CardReaderError("the reader is already started")
        self._callback = on_event
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="pcsc-card-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watcher (wakes it with SCardCancel) and wait for it."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        with self._lock:
            context = self._context
        if context is not None:
            self._api.SCardCancel(context)
        if thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 3 * self._poll_ms / 1000))
            if thread.is_alive():
                log.error("the card watcher did not stop within its timeout")
        self._callback = None

    def close(self) -> None:
        """Stop watching (the reader holds nothing else between queries)."""
        self.stop()

    def status(self) -> ReaderStatus:
        """A snapshot of what the watcher last saw."""
        thread = self._thread
        with self._lock:
            return ReaderStatus(
                backend=self.backend,
                service=self._service,
                watching=thread is not None and thread.is_alive(),
                readers=tuple(name for name in self._states if name != pc.PNP_NOTIFICATION),
                ignored=self._ignored,
                cards=tuple(self._present),
                reconnects=max(0, self._contexts - 1),
                last_error=self._last_error,
                details={"filter": self._describe_filter()},
            )

    def query_card(self, challenge: bytes, reader: str | None = None) -> CardAnswer:
        """SELECT, GET DATA, INTERNAL AUTHENTICATE on its own PC/SC context; the card is reset after."""
        challenge = validate_challenge(challenge)
        api = self._api
        with self._query_lock:
            hresult, context = api.SCardEstablishContext(pc.SCARD_SCOPE_USER)
            if _code(hresult) != pc.SCARD_S_SUCCESS:
                raise _error_for("establish PC/SC context", hresult)
            try:
                name = self._card_reader(context, reader)
                hresult, card, protocol = api.SCardConnect(
                    context, name, pc.SCARD_SHARE_SHARED, pc.SCARD_PROTOCOL_T0 | pc.SCARD_PROTOCOL_T1
                )
                if _code(hresult) != pc.SCARD_S_SUCCESS:
                    raise _error_for(f"connect to the card in {name}", hresult)
                try:
                    card_id, response = read_service_card(self._transmitter(card, protocol), challenge)
                finally:
                    api.SCardDisconnect(card, pc.SCARD_RESET_CARD)
            finally:
                api.SCardReleaseContext(context)
        return CardAnswer(card_id, challenge, response, name)

    # --- the card exchange --------------------------------------------------------------------------
    def _transmitter(self, card: int, protocol: int) -> Callable[[bytes], tuple[bytes, int]]:
        def transmit(apdu: bytes) -> tuple[bytes, int]:
            hresult, response = self._api.SCardTransmit(card, protocol, list(apdu))
            if _code(hresult) != pc.SCARD_S_SUCCESS:
                raise _error_for("transmit to the card", hresult)
            return split_response(response)

        return transmit

    def _card_reader(self, context: int, wanted: str | None) -> str:
        """The reader to talk to: ``wanted`` if accepted, else the first accepted one holding a card."""
        if wanted is not None and not self.filter.accepts(wanted):
            raise NoCardError(f"reader {wanted!r} is not used by this kiosk ({self._describe_filter()})")
        names = [wanted] if wanted is not None else [n for n in self._list_readers(context) if self.filter.accepts(n)]
        if not names:
            raise ReaderUnavailableError("no card reader connected")
        hresult, states = self._api.SCardGetStatusChange(context, 0, [(n, pc.SCARD_STATE_UNAWARE) for n in names])
        if _code(hresult) != pc.SCARD_S_SUCCESS:
            raise _error_for("read the reader state", hresult)
        for name, event, _atr in states:
            if event & pc.SCARD_STATE_PRESENT and not event & pc.SCARD_STATE_MUTE:
                return str(name)
        raise NoCardError(f"no card in {wanted or ', '.join(names)}")

    def _list_readers(self, context: int) -> list[str]:
        hresult, names = self._api.SCardListReaders(context, [])
        code = _code(hresult)
        if code == pc.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if code != pc.SCARD_S_SUCCESS:
            raise _ContextLostError(code)
        return [str(n) for n in names]

    def _describe_filter(self) -> str:
        prefix = f"readers starting {self.filter.prefix!r}" if self.filter.prefix else "every reader"
        if self.filter.allow_virtual or (self.filter.prefix or "").startswith(VIRTUAL_READER_PREFIX):
            return prefix
        return f"{prefix} except {VIRTUAL_READER_PREFIX}*"

    # --- the watcher ---------------------------------------------------------------------------------
    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopping.is_set():
            hresult, context = self._api.SCardEstablishContext(pc.SCARD_SCOPE_USER)
            if _code(hresult) != pc.SCARD_S_SUCCESS:
                self._note_error(pc.describe(hresult))
                self._stopping.wait(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            with self._lock:
                self._context = context
                self._contexts += 1
                self._service = True
            delay = self._backoff[0]
            try:
                self._watch(context)
            except _ContextLostError as exc:
                self._note_error(str(exc))
                log.warning("PC/SC context lost (%s); re-establishing", exc)
            except Exception as exc:
                self._note_error(f"{type(exc).__name__}: {exc}")
                log.exception("card watcher failed; re-establishing")
            finally:
                with self._lock:
                    self._context = None
                    self._service = False
                self._api.SCardReleaseContext(context)
                self._forget_all()
            if not self._stopping.is_set():
                self._stopping.wait(delay)
                delay = min(delay * 2, self._backoff[1])

    def _watch(self, context: int) -> None:
        pnp = True
        self._refresh_readers(context)
        while not self._stopping.is_set():
            names = list(self._states)
            watched = [(n, self._states[n]) for n in names]
            if pnp:
                watched.append((pc.PNP_NOTIFICATION, self._pnp_state))
            elif not watched:
                self._stopping.wait(self._poll_ms / 1000)
                self._refresh_readers(context)
                continue
            hresult, changes = self._api.SCardGetStatusChange(context, self._poll_ms, watched)
            code = _code(hresult)
            if code in (pc.SCARD_E_TIMEOUT, pc.SCARD_E_CANCELLED):
                if not pnp:
                    self._refresh_readers(context)
                continue
            if code == pc.SCARD_E_UNKNOWN_READER:
                self._refresh_readers(context)
                continue
            if code != pc.SCARD_S_SUCCESS:
                raise _ContextLostError(code)
            relist = False
            for name, event, atr in changes:
                if name == pc.PNP_NOTIFICATION:
                    if event & pc.SCARD_STATE_UNKNOWN:
                        pnp = False  # a PC/SC service without PnP: poll the reader list instead
                    relist = relist or bool(event & pc.SCARD_STATE_CHANGED)
                    self._pnp_state = event & ~pc.SCARD_STATE_CHANGED
                elif event & (pc.SCARD_STATE_UNKNOWN | pc.SCARD_STATE_IGNORE):
                    relist = True
                else:
                    self._slot_changed(str(name), event, bytes(atr))
            if relist:
                self._refresh_readers(context)

    _pnp_state = pc.SCARD_STATE_UNAWARE

    def _refresh_readers(self, context: int) -> None:
        names = self._list_readers(context)
        accepted = [n for n in names if self.filter.accepts(n)]
        for gone in [n for n in self._states if n not in accepted]:
            with self._lock:
                del self._states[gone]
            self._card_left(gone)
        with self._lock:
            for name in accepted:
                self._states.setdefault(name, pc.SCARD_STATE_UNAWARE)
            self._ignored = tuple(n for n in names if n not in accepted)

    def _slot_changed(self, name: str, event: int, atr: bytes) -> None:
        previous = self._states.get(name, pc.SCARD_STATE_UNAWARE)
        with self._lock:
            self._states[name] = event & ~pc.SCARD_STATE_CHANGED
        present = bool(event & pc.SCARD_STATE_PRESENT) and not event & pc.SCARD_STATE_MUTE
        was_present = name in self._present
        # pcsc-lite counts insertions and removals in the high 16 bits: a card swapped between two
        # polls shows "present" both times with a new count, and must not inherit the old session.
        swapped = (
            present
            and was_present
            and previous & _COUNTER_MASK != event & _COUNTER_MASK
            and previous != pc.SCARD_STATE_UNAWARE
        )
        if was_present and (swapped or not present):
            self._card_left(name)
        if present and (swapped or not was_present):
            with self._lock:
                self._present[name] = atr
            self._emit(CardEvent(CardEventKind.INSERTED, name, atr, time.monotonic()))

    def _card_left(self, name: str) -> None:
        with self._lock:
            had = self._present.pop(name, None)
        if had is not None:
            self._emit(CardEvent(CardEventKind.REMOVED, name, b"", time.monotonic()))

    def _forget_all(self) -> None:
        """The context is gone: every card counts as removed, every reader as unknown."""
        for name in list(self._present):
            self._card_left(name)
        with self._lock:
            self._states.clear()
        self._pnp_state = pc.SCARD_STATE_UNAWARE

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._last_error = text
            self._service = False

    def _emit(self, event: CardEvent) -> None:
        callback = self._callback
        if callback is None or self._stopping.is_set():
            return
        try:
            callback(event)
        except Exception:
            log.exception("card event callback failed")


def _default_api() -> ModuleType:
    import smartcard.scard

    module: ModuleType = smartcard.scard
    return module


def open_url(url: ReaderURL, **kw: Any) -> PcscReader:
    """Backend entry point: ``pcsc://[?reader=PREFIX&allow_virtual=1&poll=SEC&backoff_max=SEC]``.

    Keyword arguments ``reader``, ``allow_virtual``, ``poll``, ``backoff`` and ``api`` override the URL.
    """
    options: dict[str, Any] = {
        "reader": url.param("reader") or None,
        "allow_virtual": url.flag("allow_virtual"),
        "poll": url.seconds("poll", 0.5, low=0.05, high=10),
        "backoff": (0.2, url.seconds("backoff_max", 5.0, low=0.2, high=300)),
    }
    unknown = set(kw) - {*options, "api"}
    if unknown:
        raise TypeError(f"pcsc:// takes no options {sorted(unknown)}")
    options.update(kw)
    return PcscReader(**options)
