"""Documents as layout: the primitives a receipt is made of, and nothing about bytes.

A ``Document`` is a title and a sequence of blocks. Builders in ``kiosk.documents`` turn business
data into documents; the formatter (``drivers.printer.formatter``) turns them into ESC/POS bytes for
one printer profile, and ``drivers.printer.compose`` turns them into wrapped plain-text lines (the
same line breaks, for previews and tests). Pure dataclasses: no escpos, no I/O.

Text may contain U+00A0 (no-break space): the wrapper never breaks a line there, and the printer
receives an ordinary space. Use it inside amounts ("1 234,56 руб.") and dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

NBSP = "\u00a0"


class Align(StrEnum):
    """Horizontal alignment of a block."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class BarcodeKind(StrEnum):
    """Barcode symbologies the layout may ask for (the formatter maps them to GS k)."""

    CODE128 = "CODE128"
    CODE39 = "CODE39"
    EAN13 = "EAN13"


@dataclass(frozen=True, slots=True)
class Title:
    """A heading. ``large`` prints double width and height (half the columns)."""

    text: str
    large: bool = True
    align: Align = Align.CENTER


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph, word-wrapped to the paper width. ``small`` uses font B (more columns)."""

    text: str
    bold: bool = False
    align: Align = Align.LEFT
    small: bool = False
    indent: int = 0  # columns of hanging indent for continuation lines (lists)


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A label and a value on one line (value right-aligned), or the value under the label when
    both do not fit."""

    key: str
    value: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Column:
    """One table column. ``weight`` shares the free width; ``align`` applies to its cells."""

    header: str
    weight: int = 1
    align: Align = Align.LEFT
    min_width: int = 1

    def __post_init__(self) -> None:
        if self.weight < 1 or self.min_width < 1:
            raise ValueError("column weight and min_width must be positive")


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of cells under column headers; each cell wraps inside its column."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("a table needs at least one column")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} has {len(row)} cells, the table {len(self.columns)} columns")


@dataclass(frozen=True, slots=True)
class Preformatted:
    """Lines printed as given (e.g. a payment terminal's slip); only cut at the paper width."""

    lines: tuple[str, ...]
    align: Align = Align.LEFT


@dataclass(frozen=True, slots=True)
class QR:
    """A QR code printed natively by the printer (GS ( k). ``module`` is dots per module; the
    formatter reduces it when the code would not fit the paper."""

    data: str
    module: int = 6
    caption: str | None = None

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("a QR code needs data")
        if not 1 <= self.module <= 16:
            raise ValueError("QR module size must be 1..16 dots")


@dataclass(frozen=True, slots=True)
class Barcode:
    """A 1-D barcode printed natively (GS k), with its human-readable text below."""

    data: str
    kind: BarcodeKind = BarcodeKind.CODE128
    height: int = 64

    def __post_init__(self) -> None:
        if not self.data or not self.data.isascii():
            raise ValueError("barcode data must be non-empty ASCII")


@dataclass(frozen=True, slots=True)
class Separator:
    """A full-width rule drawn with ``char``."""

    char: str = "-"

    def __post_init__(self) -> None:
        if len(self.char) != 1:
            raise ValueError("separator char must be one character")


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank lines."""

    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    """Feed, cut, and present the ticket (on printers with a presenter)."""

    partial: bool = False


Block = Title | Text | KeyValue | Table | Preformatted | QR | Barcode | Separator | Feed | Cut


@dataclass(frozen=True, slots=True)
class Document:
    """A printable document: ``kind`` names it in journals and logs (``policy``, ``letter``...)."""

    kind: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, kind: str, blocks: Sequence[Block]) -> Document:
        """Build a document from any sequence of blocks."""
        return cls(kind, tuple(blocks))

    @property
    def qr_codes(self) -> tuple[str, ...]:
        """The data of every QR code, in order (what a checker expects to decode)."""
        return tuple(b.data for b in self.blocks if isinstance(b, QR))

    @property
    def ends_with_cut(self) -> bool:
        """Whether the last block cuts the paper."""
        return bool(self.blocks) and isinstance(self.blocks[-1], Cut)
