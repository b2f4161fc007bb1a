"""The card terminal's receipt (slip) printed on the kiosk printer when the terminal has none."""

from __future__ import annotations

from collections.abc import Sequence

from drivers.printer.layout import Align, Block, Cut, Document, Preformatted, Separator, Text

SLIP_TITLE = "Чек терминала оплаты"


def slip_document(lines: Sequence[str], *, title: str | None = SLIP_TITLE, copy_label: str | None = None) -> Document:
    """The terminal's lines, as it sent them (spacing kept; long lines continue on the next line)."""
    blocks: list[Block] = []
    if title:
        blocks += [Text(title, bold=True, align=Align.CENTER), Separator()]
    blocks.append(Preformatted(tuple(lines)))
    if copy_label:
        blocks += [Separator(), Text(copy_label, align=Align.CENTER, small=True)]
    blocks.append(Cut())
    return Document.of("slip", blocks)
