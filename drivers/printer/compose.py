"""Layout to lines: wrapping, columns and tables for one paper width, without any printer bytes.

The formatter prints exactly these lines, so a preview (``plain_text``), the snapshot tests and the
printed paper break lines in the same places. Pure: no escpos, no I/O.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from drivers.printer.errors import LayoutError
from drivers.printer.layout import (
    NBSP,
    QR,
    Align,
    Barcode,
    Block,
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
from drivers.printer.profiles import PrinterProfile

# Characters that no Cyrillic code page has, replaced by what a cashier would write by hand.
# ("₽" is in no ESC t table: the escpos reference report, section 5.)
FALLBACKS: dict[str, str] = {
    "₽": "руб.",
    "—": "-",
    "–": "-",
    "−": "-",
    "«": '"',
    "»": '"',
    "„": '"',
    "“": '"',
    "”": '"',
    "’": "'",
    "‘": "'",
    "…": "...",
    "\u2009": " ",
    "\u202f": NBSP,
}

# Byte capacity of QR versions 1..10 at error correction level M (ISO/IEC 18004, table 7).
QR_CAPACITY_M = (14, 26, 42, 62, 84, 106, 122, 152, 180, 213)
QR_QUIET_MODULES = 4

# Spaces that must not become line breaks: inside numbers ("100 000", "8 800 100-00-00"), after "№",
# and before a currency word.
KEEP_TOGETHER = re.compile(r"(?<=\d) (?=\d)|(?<=№) | (?=руб\.)| (?=г\.р\.)")


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line of text with its style; ``text`` never exceeds the line's columns."""

    text: str
    bold: bool = False
    large: bool = False
    small: bool = False
    align: Align = Align.LEFT


@dataclass(frozen=True, slots=True)
class Code:
    """A QR code or barcode with the module size that fits the paper."""

    block: QR | Barcode
    module: int = 0


Op = Line | Code | Feed | Cut


def sanitize(text: str) -> str:
    """Replace typographic characters that thermal printers' code pages lack."""
    return "".join(FALLBACKS.get(ch, ch) for ch in text)


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Word-wrap to ``width`` columns; never breaks at a no-break space; long words are split.

    Explicit newlines start new lines; an empty paragraph gives an empty line. ``indent`` is a
    hanging indent for continuation lines (list items).
    """
    if width < 1:
        raise LayoutError("wrap width must be positive")
    indent = min(indent, width - 1)
    lines: list[str] = []
    for paragraph in KEEP_TOGETHER.sub(NBSP, sanitize(text)).split("\n"):
        wrapped = textwrap.wrap(
            paragraph,
            width,
            subsequent_indent=" " * indent,
            break_on_hyphens=False,
            drop_whitespace=True,
        )
        lines += wrapped or [""]
    return [line.replace(NBSP, " ") for line in lines]


def qr_modules(data: str) -> int:
    """Modules per side of the smallest QR (EC level M, byte mode) that holds ``data``."""
    size = len(data.encode("utf-8"))
    for version, capacity in enumerate(QR_CAPACITY_M, start=1):
        if size <= capacity:
            return 17 + 4 * version
    raise LayoutError(f"QR data of {size} bytes is longer than this layout allows ({QR_CAPACITY_M[-1]})")


def compose(document: Document, profile: PrinterProfile) -> list[Op]:
    """The document as print operations for ``profile``'s paper."""
    ops: list[Op] = []
    for block in document.blocks:
        ops += _block(block, profile)
    return ops


def plain_text(document: Document, profile: PrinterProfile) -> str:
    """What the paper will say, as text: QR codes and barcodes as ``[QR: data]`` lines."""
    out: list[str] = []
    for op in compose(document, profile):
        match op:
            case Line():
                out.append(_aligned(op, profile))
            case Code(block=QR() as qr):
                out.append(f"[QR: {qr.data}]")
            case Code(block=Barcode() as barcode):
                out.append(f"[{barcode.kind}: {barcode.data}]")
            case Feed(lines=n):
                out += [""] * n
            case Cut():
                out.append("~" * profile.columns)
    return "\n".join(out) + "\n"


def columns_for(line: Line, profile: PrinterProfile) -> int:
    """How many characters fit on a line in this style."""
    if line.large:
        return profile.columns // 2
    return profile.columns_small if line.small else profile.columns


def _aligned(line: Line, profile: PrinterProfile) -> str:
    width = columns_for(line, profile)
    match line.align:
        case Align.CENTER:
            return line.text.center(width).rstrip()
        case Align.RIGHT:
            return line.text.rjust(width)
        case _:
            return line.text


def _block(block: Block, profile: PrinterProfile) -> Iterator[Op]:
    cols = profile.columns
    match block:
        case Title(text=text, large=large, align=align):
            width = cols // 2 if large else cols
            for line in wrap(text, width):
                yield Line(line, bold=True, large=large, align=align)
        case Text(text=text, bold=bold, align=align, small=small, indent=indent):
            width = profile.columns_small if small else cols
            for line in wrap(text, width, indent):
                yield Line(line, bold=bold, small=small, align=align)
        case KeyValue(key=key, value=value, bold=bold):
            yield from (Line(t, bold=bold) for t in _key_value(sanitize(key), sanitize(value), cols))
        case Table():
            yield from _table(block, cols)
        case Preformatted(lines=lines, align=align):
            for raw in lines:
                text = sanitize(raw).replace(NBSP, " ").rstrip()
                chunks = [text[i : i + cols] for i in range(0, len(text), cols)] or [""]
                yield from (Line(chunk, align=align) for chunk in chunks)
        case QR(data=data, module=module, caption=caption):
            modules = qr_modules(data)
            fit = profile.width_dots // (modules + QR_QUIET_MODULES)
            if fit < 2:
                raise LayoutError(f"QR of {modules} modules does not fit {profile.width_dots} dots")
            yield Code(block, module=min(module, fit))
            if caption:
                yield from (Line(t, align=Align.CENTER, small=True) for t in wrap(caption, profile.columns_small))
        case Barcode():
            if len(block.data) > cols:
                raise LayoutError(f"barcode {block.data!r} is too long for {cols} columns")
            yield Code(block)
        case Separator(char=char):
            yield Line(char * cols)
        case Feed() | Cut():
            yield block


def _key_value(key: str, value: str, cols: int) -> list[str]:
    """``key ..... value`` on one line when it fits, else the key wrapped and the value right-aligned."""
    flat_key, flat_value = key.replace(NBSP, " "), value.replace(NBSP, " ")
    if len(flat_key) + 1 + len(flat_value) <= cols:
        return [flat_key + " " * (cols - len(flat_key) - len(flat_value)) + flat_value]
    lines = wrap(key, cols)
    value_lines = wrap(value, cols - 2)
    # A short last key line can carry the value's first line.
    if len(value_lines) == 1 and len(lines[-1]) + 1 + len(value_lines[0]) <= cols:
        last = lines.pop()
        return [*lines, last + " " * (cols - len(last) - len(value_lines[0])) + value_lines[0]]
    return lines + [line.rjust(cols) for line in value_lines]


def _table(table: Table, cols: int) -> Iterator[Line]:
    widths = _column_widths(table, cols)
    header = tuple(c.header for c in table.columns)
    if any(header):
        yield from (Line(t, bold=True) for t in _table_row(header, table, widths))
    for row in table.rows:
        yield from (Line(t) for t in _table_row(row, table, widths))


def _column_widths(table: Table, cols: int) -> list[int]:
    """Natural widths when they fit; otherwise the free width shared by weight above the minimums."""
    gaps = len(table.columns) - 1
    available = cols - gaps
    if sum(c.min_width for c in table.columns) > available:
        raise LayoutError(f"table columns need more than {cols} columns")
    natural = [
        max(len(sanitize(c.header)), *(len(sanitize(row[i])) for row in table.rows))
        for i, c in enumerate(table.columns)
    ]
    if sum(natural) <= available:
        natural[-1] += available - sum(natural)
        return natural
    # Too wide: take a column at a time from the one with the most width per weight, keeping each
    # column at least as wide as its minimum and, while possible, its longest word.
    floors = [
        max(
            c.min_width,
            *(len(w) for text in (c.header, *(row[i] for row in table.rows)) for w in _words(text)),
        )
        for i, c in enumerate(table.columns)
    ]
    if sum(floors) > available:
        floors = [c.min_width for c in table.columns]
    widths = natural
    while sum(widths) > available:
        shrinkable = [i for i in range(len(widths)) if widths[i] > floors[i]]
        widest = max(shrinkable, key=lambda i: (widths[i] / table.columns[i].weight, i))
        widths[widest] -= 1
    return widths


def _words(text: str) -> list[str]:
    """The unbreakable pieces ``wrap`` would keep whole."""
    return KEEP_TOGETHER.sub(NBSP, sanitize(text)).split(" ")


def _table_row(cells: Sequence[str], table: Table, widths: Sequence[int]) -> list[str]:
    wrapped = [wrap(cell, width) for cell, width in zip(cells, widths, strict=True)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = []
        for column, width, cell_lines in zip(table.columns, widths, wrapped, strict=True):
            text = cell_lines[i] if i < len(cell_lines) else ""
            parts.append(text.rjust(width) if column.align is Align.RIGHT else text.ljust(width))
        lines.append(" ".join(parts).rstrip())
    return lines
