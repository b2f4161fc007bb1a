"""The receipt printer: Protocol, layout model, status, profiles, and backends opened by URL.

Importing this package does not import python-escpos: backends are loaded by URL scheme with
importlib (pyserial's ``serial_for_url`` style), so ``kiosk`` can use the layout model and the
Protocol while the layering contract keeps it free of device libraries.

URL grammar (query parameters are optional)::

    escpos+tcp://HOST[:PORT]            network printer, port 9100 by default
    escpos+serial:///dev/ttyS0          serial; ?baudrate=115200&parity=N&stopbits=1&xonxoff=0&dsrdtr=1
    escpos+usb://VID:PID                USB (hex ids); ?in_ep=0x82&out_ep=0x01
    escpos+file:///dev/usb/lp0          a character device (status read back), or a regular file as a spool:
                                        created 0600 if missing, appended to, never truncated; an existing
                                        non-empty file only with ?append=1; anything else is "not a printer"
    sim://printer                       start the simulator on a free loopback port and connect to it;
                                        ?jobs=FILE (JSON-lines journal)&fault=NAME (repeatable)&port=N

    common: ?profile=NAME|PATH.toml  (default epson-80)   ?timeout=SEC (I/O, default 3)
            ?job_timeout=SEC (wait for a job to print; default from its size)
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from drivers.printer.errors import (
    LayoutError,
    PrinterConnectionError,
    PrinterError,
    PrinterPathError,
    PrinterURLError,
    ProfileError,
)
from drivers.printer.layout import (
    QR,
    Align,
    Barcode,
    BarcodeKind,
    Block,
    Column,
    Cut,
    Document,
    Feed,
    KeyValue,
    Preformatted,
    Separator,
    Table,
    Text,
    Title,
)
from drivers.printer.profiles import DEFAULT_PROFILE, PrinterProfile, available_profiles, load_profile
from drivers.printer.protocol import PrintResult, ReceiptPrinter
from drivers.printer.status import Condition, StatusReport

__all__ = [
    "QR",
    "Align",
    "Barcode",
    "BarcodeKind",
    "Block",
    "Column",
    "Condition",
    "Cut",
    "Document",
    "Feed",
    "KeyValue",
    "LayoutError",
    "Preformatted",
    "PrintResult",
    "PrinterConnectionError",
    "PrinterError",
    "PrinterPathError",
    "PrinterProfile",
    "PrinterURL",
    "PrinterURLError",
    "ProfileError",
    "ReceiptPrinter",
    "Separator",
    "StatusReport",
    "Table",
    "Text",
    "Title",
    "available_profiles",
    "load_profile",
    "open_printer",
    "parse_url",
]

# URL scheme -> backend module (each exposes ``open_url(url: PrinterURL, **kw) -> ReceiptPrinter``).
BACKENDS: dict[str, str] = {
    "escpos+tcp": "drivers.printer.escpos_backend",
    "escpos+serial": "drivers.printer.escpos_backend",
    "escpos+usb": "drivers.printer.escpos_backend",
    "escpos+file": "drivers.printer.escpos_backend",
    "sim": "drivers.printer.simulator",
}


# Query parameters each transport takes; anything else is a typo to refuse, not a default to run with.
COMMON_OPTIONS = frozenset({"profile", "timeout", "job_timeout"})
OPTIONS: dict[str, frozenset[str]] = {
    "tcp": frozenset(),
    "serial": frozenset({"baudrate", "bytesize", "parity", "stopbits", "xonxoff", "dsrdtr"}),
    "usb": frozenset({"in_ep", "out_ep"}),
    "file": frozenset({"append"}),
    "sim": frozenset({"jobs", "fault", "port", "control_port", "paper_lines"}),
}
_NUMBER = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@dataclass(frozen=True, slots=True)
class PrinterURL:
    """A parsed printer URL; ``params`` keeps every query value (a key may repeat)."""

    scheme: str
    host: str
    port: int | None
    path: str
    params: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""

    @property
    def transport(self) -> str:
        """``tcp``, ``serial``, ``usb``, ``file`` or ``sim``."""
        return self.scheme.removeprefix("escpos+")

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter."""
        values = self.params.get(name)
        return values[-1] if values else default

    def number(self, name: str, default: float) -> float:
        """A non-negative decimal query parameter (ASCII digits, e.g. ``timeout=2.5``), validated."""
        value = self.param(name)
        if value is None:
            return default
        if not _NUMBER.fullmatch(value):
            raise PrinterURLError(f"{self.text}: {name}={value!r} is not a number (digits 0-9, e.g. 2.5)")
        return float(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        """A non-negative whole query parameter (ASCII digits), validated."""
        value = self.param(name)
        if value is None:
            return default
        if not (value.isascii() and value.isdigit() and len(value) <= 9):
            raise PrinterURLError(f"{self.text}: {name}={value!r} is not a whole number")
        return int(value)

    def flag(self, name: str) -> bool:
        """A yes/no query parameter: ``1``/``true``/``yes`` or ``0``/``false``/``no`` (absent: no)."""
        value = self.param(name)
        if value is None:
            return False
        if value.lower() not in _FLAGS:
            raise PrinterURLError(f"{self.text}: {name}={value!r} must be 1 or 0")
        return _FLAGS[value.lower()]

    def load_profile(self) -> PrinterProfile:
        """The profile named by ``?profile=`` (default ``epson-80``)."""
        return load_profile(self.param("profile", DEFAULT_PROFILE) or DEFAULT_PROFILE)


def parse_url(url: str) -> PrinterURL:
    """Parse and validate a printer URL (see the module docstring for the grammar)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in BACKENDS:
        raise PrinterURLError(f"{url}: unknown printer URL scheme {scheme!r}; use one of {', '.join(BACKENDS)}")
    params = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    if scheme == "escpos+usb":  # VID:PID looks like host:port but the "port" is hex
        parsed = PrinterURL(scheme, parts.netloc, None, "", params, url)
    else:
        try:
            port = parts.port
        except ValueError:
            raise PrinterURLError(f"{url}: bad port") from None
        parsed = PrinterURL(scheme, parts.hostname or "", port, unquote(parts.path), params, url)
    if parsed.transport == "tcp" and not parsed.host:
        raise PrinterURLError(f"{url}: a TCP printer URL needs a host")
    if parsed.transport in ("serial", "file") and not parsed.path:
        raise PrinterURLError(f"{url}: a {parsed.transport} printer URL needs a path (three slashes)")
    if parsed.transport == "usb" and not parts.netloc:
        raise PrinterURLError(f"{url}: a USB printer URL needs VID:PID")
    if parsed.transport == "sim" and parsed.host != "printer":
        raise PrinterURLError(f"{url}: the simulator URL is sim://printer")
    unknown = sorted(set(params) - COMMON_OPTIONS - OPTIONS[parsed.transport])
    if unknown:
        known = ", ".join(sorted(COMMON_OPTIONS | OPTIONS[parsed.transport]))
        raise PrinterURLError(f"{url}: unknown option(s) {', '.join(unknown)}; {parsed.scheme} takes {known}")
    return parsed


def open_printer(url: str, **kw: Any) -> ReceiptPrinter:
    """Open the printer a URL names; the backend module is imported only now."""
    parsed = parse_url(url)
    backend = importlib.import_module(BACKENDS[parsed.scheme])
    printer: ReceiptPrinter = backend.open_url(parsed, **kw)
    return printer
