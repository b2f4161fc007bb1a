"""The ``ReceiptPrinter`` Protocol the kiosk depends on, and the result of a print job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from drivers.printer.layout import Document
from drivers.printer.profiles import PrinterProfile
from drivers.printer.status import PAPER_END, StatusReport


@dataclass(frozen=True, slots=True)
class PrintResult:
    """What happened to one document.

    ``ok`` only when the printer was ready before, took the whole job, finished printing it, and
    is not stopped afterwards (a job that ran into paper end is *failed*, even if it was sent).
    ``sent`` tells whether any byte left the kiosk: a job refused by the pre-check was not sent,
    and reprinting it cannot duplicate anything.
    """

    kind: str
    ok: bool
    sent: bool
    bytes_sent: int
    before: StatusReport
    after: StatusReport | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """The opposite of ``ok``."""
        return not self.ok

    @property
    def ran_out_of_paper(self) -> bool:
        """Whether the status after the job shows paper end."""
        return self.after is not None and PAPER_END in self.after.blocking

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (CLI output, journals)."""
        return {
            "kind": self.kind,
            "ok": self.ok,
            "sent": self.sent,
            "bytes_sent": self.bytes_sent,
            "error": self.error,
            "before": self.before.to_dict(),
            "after": None if self.after is None else self.after.to_dict(),
        }


@runtime_checkable
class ReceiptPrinter(Protocol):
    """A receipt printer as the kiosk uses it. Open one with ``drivers.printer.open_printer(url)``."""

    @property
    def profile(self) -> PrinterProfile:
        """The printer model's profile (paper width, code page, presenter)."""

    def status(self) -> StatusReport:
        """Read the status now (short timeouts; no reply means not ready)."""

    def print_document(self, document: Document, *, precheck: bool = True) -> PrintResult:
        """Print a document and wait until it is printed.

        With ``precheck`` (the default) nothing is sent unless the printer is ready. The result is
        failed when the status after printing blocks (paper end, cover open...) or printing did not
        finish in time.
        """

    def cut(self, *, partial: bool = False) -> None:
        """Feed, cut and present the ticket now (documents normally end with their own cut)."""

    def close(self) -> None:
        """Release the connection (and stop a simulator this printer started)."""
