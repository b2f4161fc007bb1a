"""A recording printer for unit tests: renders real bytes, keeps them, and reports scripted status.

Use it where a service needs a ``ReceiptPrinter``: it records every document and its ESC/POS bytes
(for snapshot tests), and its status can be set, or scripted per call, to play a printer that is
ready, out of paper, or runs out during the next job::

    printer = RecordingPrinter()
    printer.script_after_print(PAPER_OUT)     # the next job ends in paper end
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from drivers.printer.base import FormattingPrinter
from drivers.printer.errors import PrinterConnectionError
from drivers.printer.layout import Document
from drivers.printer.profiles import DEFAULT_PROFILE, PrinterProfile, load_profile
from drivers.printer.protocol import PrintResult
from drivers.printer.status import (
    COVER_OPEN,
    NO_REPLY,
    OFFLINE,
    PAPER_END,
    PAPER_NEAR_END,
    StatusReport,
    report_of,
)

READY = StatusReport()
NEAR_END = report_of([PAPER_NEAR_END])
PAPER_OUT = report_of([OFFLINE, PAPER_END, PAPER_NEAR_END])
COVER = report_of([OFFLINE, COVER_OPEN])
SILENT = report_of([NO_REPLY])


@dataclass(frozen=True, slots=True)
class RecordedJob:
    """One job as the printer received it."""

    document: Document
    data: bytes
    result: PrintResult


class RecordingPrinter(FormattingPrinter):
    """A ``ReceiptPrinter`` that records instead of printing."""

    def __init__(self, profile: PrinterProfile | None = None, *, status: StatusReport = READY) -> None:
        super().__init__(profile or load_profile(DEFAULT_PROFILE))
        self.current = status
        self.jobs: list[RecordedJob] = []
        self.sent: list[bytes] = []  # every write, in order (documents and separate cuts)
        self.closed = False
        self.fail_send = False
        self._after_print: deque[StatusReport] = deque()

    @property
    def documents(self) -> list[Document]:
        """The documents printed so far."""
        return [job.document for job in self.jobs]

    def script_after_print(self, *reports: StatusReport) -> None:
        """Status the next jobs end with (one per job); the current status follows each."""
        self._after_print.extend(reports)

    def print_document(self, document: Document, *, precheck: bool = True) -> PrintResult:
        """Record the document and its bytes (see ``ReceiptPrinter.print_document``)."""
        before = len(self.sent)
        result = super().print_document(document, precheck=precheck)
        data = self.sent[before] if len(self.sent) > before else b""
        self.jobs.append(RecordedJob(document, data, result))
        return result

    def _send(self, data: bytes) -> None:
        if self.closed or self.fail_send:
            raise PrinterConnectionError("the recording printer is closed" if self.closed else "send failed")
        self.sent.append(data)

    def _read_status(self) -> StatusReport:
        return self.current

    def _wait_printed(self, timeout: float) -> StatusReport:
        if self._after_print:
            self.current = self._after_print.popleft()
        return self.current

    def close(self) -> None:
        """Refuse further jobs (the way a closed connection would)."""
        self.closed = True
