"""The payment driver's exceptions: one small tree rooted in ``IOError``.

``TerminalError`` is what callers catch. Device trouble (no ACK, silence, a dead line) is a
``TransportError``; garbage on the wire is a ``ProtocolError``; asking for a second transaction while
one runs is ``TerminalBusyError``. Invalid amounts are refused before the device is touched
(``InvalidAmountError`` is also a ``ValueError``).
"""

from __future__ import annotations


class TerminalError(IOError):
    """Anything the payment terminal driver reports."""


class ProtocolError(TerminalError):
    """Bytes that are not valid ZVT: bad framing, CRC, length or field encoding."""


class TransportError(TerminalError):
    """The link failed: no acknowledgement after the repeats, the line closed, the port vanished."""


class LinkClosedError(TransportError):
    """The other side hung up (pty closed, socket EOF)."""


class TerminalTimeoutError(TransportError):
    """The terminal did not answer within T3/T4 (or a bytes-level deadline)."""


class TerminalRefusedError(TerminalError):
    """The terminal answered a command negatively (84 xx or Abort 06 1E)."""

    def __init__(self, message: str, result_code: int | None = None) -> None:
        super().__init__(message)
        self.result_code = result_code


class TerminalBusyError(TerminalError):
    """A transaction is already running: one transaction at a time."""


class InvalidAmountError(TerminalError, ValueError):
    """The amount is not a positive sum of at most two decimals within the allowed maximum."""
