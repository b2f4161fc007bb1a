"""Card payment terminal: the ``PaymentTerminal`` Protocol, its results, and ``open_terminal(url)``.

Backends, chosen by URL scheme and imported only when used (pyserial is never imported here):

* ``zvt:///dev/ttyUSB0?baudrate=9600`` — ZVT over a serial line (``drivers.payment.zvt_serial``);
  ``zvt+spy:///dev/ttyUSB0?spy_file=/tmp/zvt.txt`` hex-dumps the traffic (pyserial's spy://), and any
  other pyserial URL handler works the same way (``zvt+socket://``, ``zvt+rfc2217://``, ``zvt+loop://``);
* ``zvt+tcp://host:20007`` — ZVT over TCP (``drivers.payment.zvt_tcp``);
* ``sim://terminal?scenario=approve&ledger=PATH&think=0.2`` — starts the terminal simulator as a child
  process on a pty and talks to it with the real serial backend (``drivers.payment.sim``).

``RecordingTerminal`` (``drivers.payment.recorder``) is the scriptable fake for service unit tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from drivers.payment.codes import Outcome
from drivers.payment.errors import (
    InvalidAmountError,
    LinkClosedError,
    ProtocolError,
    TerminalBusyError,
    TerminalError,
    TerminalRefusedError,
    TerminalTimeoutError,
    TransportError,
)
from drivers.payment.models import (
    Authorisation,
    Completion,
    Diagnosis,
    Fate,
    Registration,
    TerminalStatus,
    Totals,
    TotalsGroup,
    TransactionResult,
    validate_amount,
)
from drivers.payment.url import parse_url

StatusCallback = Callable[[str], None]


@runtime_checkable
class PaymentTerminal(Protocol):
    """A card payment terminal, as the sale flow needs it.

    Money-moving calls (``authorise``, ``confirm_goods``, ``refuse_goods``, ``reverse``, ``refund``)
    do not raise for device trouble: they return a result whose ``outcome`` and ``fate`` say what
    happened (``Fate.UNKNOWN`` means: ask the terminal with ``repeat_receipt``). They raise
    ``InvalidAmountError`` before touching the device, and ``TerminalBusyError`` when a transaction is
    already running. ``register``, ``end_of_day``, ``diagnosis`` and ``repeat_receipt`` raise
    ``TerminalError`` on failure; ``status`` never raises.
    """

    def register(self) -> Registration:
        """Log the kiosk on to the terminal (kiosk prints receipts, terminal locked for staff)."""
        ...

    def status(self) -> TerminalStatus:
        """Ready or not, with the reason: the preflight before any money moves."""
        ...

    def authorise(self, amount: Decimal, *, on_status: StatusCallback | None = None) -> Authorisation:
        """Take the card and authorise ``amount``. Returns at the terminal's verdict; if approved the
        terminal then waits for ``confirm_goods`` or ``refuse_goods`` (and reverses on its own if
        neither comes). ``on_status`` receives short Russian texts for the customer's screen."""
        ...

    def confirm_goods(self, auth: Authorisation) -> Completion:
        """The policy is issued: commit the payment."""
        ...

    def refuse_goods(self, auth: Authorisation, reason_code: int = 0x66) -> Completion:
        """The policy could not be issued: the terminal reverses the payment."""
        ...

    def abort(self) -> bool:
        """Ask the terminal to abort the running authorisation (before its verdict)."""
        ...

    def reverse(self, receipt_no: str) -> TransactionResult:
        """Reverse a committed payment of today's batch by its receipt number."""
        ...

    def refund(self, amount: Decimal) -> TransactionResult:
        """Refund an amount to a card the customer presents."""
        ...

    def end_of_day(self) -> Totals:
        """Close the batch; totals per card type."""
        ...

    def diagnosis(self) -> Diagnosis:
        """Let the terminal check itself and its host connection."""
        ...

    def repeat_receipt(self) -> TransactionResult:
        """The last transaction as the terminal remembers it (crash recovery)."""
        ...

    def close(self) -> None:
        """Release the line (a pending goods decision is refused first)."""
        ...


# URL scheme -> backend module. "zvt+<anything else>" is a pyserial URL handler (spy, socket, ...).
BACKENDS: dict[str, str] = {
    "zvt": "drivers.payment.zvt_serial",
    "zvt+tcp": "drivers.payment.zvt_tcp",
    "sim": "drivers.payment.sim",
    "sim+tcp": "drivers.payment.sim",
}


def open_terminal(url: str, **kw: Any) -> PaymentTerminal:
    """Open the terminal a URL names (see the module docstring and README for the grammar).

    Keyword arguments override URL options: ``timing`` (``Timing``), ``goods`` (``GoodsPolicy``),
    ``password``, ``currency``, ``tz``, ``max_amount``, ``charset``.
    """
    parsed = parse_url(url)
    module_name = BACKENDS.get(parsed.scheme)
    if module_name is None and parsed.base == "zvt":
        module_name = BACKENDS["zvt"]
    if module_name is None:
        raise ValueError(f"no payment terminal backend for {parsed.scheme}:// (known: {', '.join(BACKENDS)})")
    if parsed.scheme == "sim+tcp":
        parsed.params.setdefault("transport", "tcp")
    backend = importlib.import_module(module_name)
    terminal: PaymentTerminal = backend.open_backend(parsed, **kw)
    return terminal


__all__ = [
    "Authorisation",
    "Completion",
    "Diagnosis",
    "Fate",
    "InvalidAmountError",
    "LinkClosedError",
    "Outcome",
    "PaymentTerminal",
    "ProtocolError",
    "Registration",
    "StatusCallback",
    "TerminalBusyError",
    "TerminalError",
    "TerminalRefusedError",
    "TerminalStatus",
    "TerminalTimeoutError",
    "Totals",
    "TotalsGroup",
    "TransactionResult",
    "TransportError",
    "open_terminal",
    "validate_amount",
]
