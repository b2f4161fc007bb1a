"""The print job flow every byte-level printer shares: pre-check, send, wait until printed, re-check.

Subclasses supply only the transport (``_send``, ``_read_status``, ``_wait_printed``), the way
python-escpos transports supply only ``_raw``/``_read``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from drivers.printer.errors import PrinterError, PrinterPathError
from drivers.printer.formatter import render, render_ops
from drivers.printer.layout import Cut, Document
from drivers.printer.profiles import PrinterProfile
from drivers.printer.protocol import PrintResult
from drivers.printer.status import ALL_CONDITIONS, NO_REPLY, StatusReport, report_of

log = logging.getLogger(__name__)

# Seconds to wait for a job to finish printing: a base for feeding/cutting plus the time to move the
# bytes through a 9600-baud line (~960 B/s) and print them.
JOB_TIMEOUT_BASE = 8.0
JOB_TIMEOUT_PER_KB = 1.5


class FormattingPrinter(ABC):
    """A ``ReceiptPrinter`` that renders documents with the formatter and sends bytes."""

    def __init__(self, profile: PrinterProfile, *, job_timeout: float | None = None) -> None:
        self._profile = profile
        self._job_timeout = job_timeout

    @property
    def profile(self) -> PrinterProfile:
        """The printer model's profile."""
        return self._profile

    # --- what a transport provides ----------------------------------------------------------

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Write the bytes (raise ``PrinterError`` on failure)."""

    @abstractmethod
    def _read_status(self) -> StatusReport:
        """Read status once, failing closed."""

    @abstractmethod
    def _wait_printed(self, timeout: float) -> StatusReport:
        """Wait until everything sent is printed (or the printer stops); return the status then."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Release the transport."""

    # --- the flow -----------------------------------------------------------------------------

    def status(self) -> StatusReport:
        """Read the status now (a transport error is reported as a blocking condition)."""
        try:
            return self._read_status()
        except PrinterPathError as exc:  # the URL names something that is not this printer: say what
            log.warning("printer status failed: %s", exc)
            condition = next((c for c in ALL_CONDITIONS if c.code == exc.code), NO_REPLY)
            return report_of([condition], {"error": str(exc)})
        except (OSError, PrinterError) as exc:
            log.warning("printer status failed: %s", exc)
            return report_of([NO_REPLY], {"error": type(exc).__name__})

    def print_document(self, document: Document, *, precheck: bool = True) -> PrintResult:
        """Pre-check, send, wait until printed, re-check; see ``ReceiptPrinter.print_document``."""
        data = render(document, self._profile)
        return self._run_job(document.kind, data, precheck=precheck)

    def cut(self, *, partial: bool = False) -> None:
        """Feed, cut and present now."""
        self._send(render_ops([Cut(partial=partial)], self._profile))

    def _run_job(self, kind: str, data: bytes, *, precheck: bool) -> PrintResult:
        before = self.status()
        if precheck and not before.ready:
            return PrintResult(
                kind,
                ok=False,
                sent=False,
                bytes_sent=0,
                before=before,
                after=None,
                error="printer not ready: " + ",".join(before.codes),
            )
        try:
            self._send(data)
        except (OSError, PrinterError) as exc:
            log.warning("sending %s failed: %s", kind, exc)
            return PrintResult(
                kind,
                ok=False,
                sent=True,
                bytes_sent=0,
                before=before,
                after=self.status(),
                error=f"send failed: {exc}",
            )
        timeout = self._job_timeout or JOB_TIMEOUT_BASE + JOB_TIMEOUT_PER_KB * len(data) / 1024
        try:
            after = self._wait_printed(timeout)
        except (OSError, PrinterError) as exc:
            after = self.status()
            log.warning("waiting for %s failed: %s", kind, exc)
        error = None if after.ready else "printing failed: " + ",".join(after.codes)
        return PrintResult(
            kind, ok=after.ready, sent=True, bytes_sent=len(data), before=before, after=after, error=error
        )
