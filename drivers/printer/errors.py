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


class PrinterPathError(PrinterConnectionError):
    """An ``escpos+file://`` path that is not this printer: ``code`` is the status condition it reports.

    ``not_a_printer``: a directory, FIFO, socket or block device; ``foreign_file``: an existing non-empty
    regular file that is not this printer's spool (without ``append=1`` it is never opened for writing).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
