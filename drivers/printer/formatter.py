"""Layout to ESC/POS bytes with python-escpos 3.1, for one printer profile.

Works around 3.1's traps (escpos reference report, section 1): the code page is selected explicitly
and selected *again* after every ``ESC @`` (3.1 forgets it); bold and size go in one ``set()``;
native QR is centred with ``ESC a`` because ``qr(native=True, center=True)`` raises. Styles are sent
only when they change, which keeps a policy copy under 2 KB.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

from escpos.capabilities import Profile as EscposProfile
from escpos.constants import PAPER_FULL_CUT, PAPER_PART_CUT
from escpos.printer import Dummy

from drivers.printer.compose import Code, Line, Op, columns_for, compose
from drivers.printer.errors import LayoutError
from drivers.printer.layout import QR, Align, Barcode, BarcodeKind, Cut, Document, Feed
from drivers.printer.profiles import PrinterProfile

FS_CANCEL_KANJI = b"\x1c\x2e"
ESC_PRINT_MODE = b"\x1b!"
ESC_POSITION = b"\x1b$"
GAP = re.compile(" {5,}")
ESC_ALIGN = {Align.LEFT: b"\x1ba\x00", Align.CENTER: b"\x1ba\x01", Align.RIGHT: b"\x1ba\x02"}
QR_EC_LEVEL_M = 1  # python-escpos QR_ECLEVEL_M; kept local so this module's constants read as data
CUT_FEED_LINES = 4  # python-escpos feeds 6 lines before the cut; 4 clears the tear bar on 80 mm units


def escpos_profile(profile: PrinterProfile) -> Any:
    """A python-escpos capabilities profile built from our TOML profile (3.1 has no VKP80 entry)."""
    result = EscposProfile(columns=profile.columns)
    result.profile_data = {
        "name": profile.name,
        "vendor": "",
        "notes": profile.description,
        "codePages": {str(profile.code_page_number): profile.code_page},
        "fonts": {
            "0": {"name": "Font A", "columns": profile.columns},
            "1": {"name": "Font B", "columns": profile.columns_small},
        },
        "media": {"dpi": profile.dpi, "width": {"mm": profile.paper_mm, "pixels": profile.width_dots}},
        "colors": {"0": "black"},
    }
    result.features = {
        "barcodeA": profile.barcode,
        "barcodeB": profile.barcode,
        "bitImageRaster": True,
        "bitImageColumn": True,
        "graphics": False,
        "highDensity": True,
        "qrCode": profile.qr,
        "paperFullCut": profile.cut == "full",
        "paperPartCut": True,
        "pulseStandard": False,
        "starCommands": False,
    }
    return result


class _Writer:
    """One document's bytes; remembers the current style so unchanged styles cost nothing."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.p = Dummy(profile=escpos_profile(profile))
        self.style: tuple[bool, bool, bool] | None = None  # (bold, large, small)
        self.align: Align | None = None

    def reset(self) -> None:
        """ESC @, then everything ESC @ forgets: Kanji mode off, the code page."""
        self.p.hw("INIT")
        if self.profile.kanji_off:
            self.p._raw(FS_CANCEL_KANJI)
        self.p.magic.encoding = None  # 3.1 would not resend ESC t after ESC @ (fixed upstream in #729)
        self.p.charcode(self.profile.code_page)
        self.style, self.align = (False, False, False), Align.LEFT

    def set_align(self, align: Align) -> None:
        if align is not self.align:
            self.p._raw(ESC_ALIGN[align])
            self.align = align

    def line(self, line: Line) -> None:
        style = (line.bold, line.large, line.small)
        if style != self.style:
            # ESC ! sets font, bold and size in one 3-byte command; python-escpos' set() would send
            # ~12 bytes per change, and separate commands for bold and size cancel the bold (report 1.3).
            mode = (0x01 if line.small else 0) | (0x08 if line.bold else 0) | (0x30 if line.large else 0)
            self.p._raw(ESC_PRINT_MODE + bytes([mode]))
            self.style = style
        self.set_align(line.align)
        text = line.text.rstrip()
        if line.align is Align.LEFT:
            # A run of spaces (padding before a right-aligned value, table gaps) becomes ESC $ with
            # the absolute position in dots: 4 bytes instead of up to 40 spaces.
            width = self.profile.width_dots // columns_for(line, self.profile)
            position = 0
            for match in GAP.finditer(text):
                self.p.text(text[position : match.start()])
                self.p._raw(ESC_POSITION + (match.end() * width).to_bytes(2, "little"))
                position = match.end()
            text = text[position:]
        self.p.text(text + "\n")

    def code(self, code: Code) -> None:
        self.set_align(Align.CENTER)
        block = code.block
        if isinstance(block, QR):
            # Native GS ( k when the printer has it (90 bytes); otherwise a raster image (~2-6 KB).
            self.p.qr(block.data, ec=QR_EC_LEVEL_M, size=code.module, native=self.profile.qr)
            self.p.text("\n")
        else:
            self.barcode(block)

    def barcode(self, block: Barcode) -> None:
        if not self.profile.barcode:
            raise LayoutError(f"profile {self.profile.name} has no native barcodes")
        data = "{B" + block.data if block.kind is BarcodeKind.CODE128 else block.data
        with contextlib.redirect_stdout(io.StringIO()):  # 3.1 prints "Using hardware barcode renderer"
            self.p.barcode(
                data,
                block.kind.value,
                height=block.height,
                width=2,
                pos="BELOW",
                align_ct=False,
                function_type="B",
            )
        self.p.text("\n")

    def cut(self, cut: Cut) -> None:
        self.set_align(Align.LEFT)
        self.p.print_and_feed(CUT_FEED_LINES)
        mode = "PART" if cut.partial or self.profile.cut == "partial" else "FULL"
        self.p._raw(PAPER_PART_CUT if mode == "PART" else PAPER_FULL_CUT)
        if self.profile.presenter:
            self.p._raw(self.profile.presenter)


def render_ops(ops: list[Op], profile: PrinterProfile) -> bytes:
    """Bytes for already composed operations (starts with a reset)."""
    writer = _Writer(profile)
    writer.reset()
    for op in ops:
        match op:
            case Line():
                writer.line(op)
            case Code():
                writer.code(op)
            case Feed(lines=n):
                writer.p.text("\n" * n)
            case Cut():
                writer.cut(op)
    output: bytes = writer.p.output
    return output


def render(document: Document, profile: PrinterProfile) -> bytes:
    """The document as ESC/POS bytes for ``profile``: reset, code page, text, codes, cut, present."""
    return render_ops(compose(document, profile), profile)
