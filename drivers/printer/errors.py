"""The printer's exception tree, rooted in ``IOError`` like pyserial's ``SerialException``."""

from __future__ import annotations


class PrinterError(IOError):
    """Any failure to talk to the receipt printer."""


class PrinterConnectionError(PrinterError):
    """The printer could not be opened or the connection broke."""


class PrinterURLError(PrinterError, ValueError):
    """A printer URL that the grammar does not accept."""


class ProfileError(PrinterError, ValueError):
    """A printer profile that is missing or invalid."""


class LayoutError(PrinterError, ValueError):
    """A document the profile cannot print (e.g. a QR code wider than the paper)."""
