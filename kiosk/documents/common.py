"""Pieces several documents share: the insurer's details and small layout helpers."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.printer.layout import Block, Feed, Separator, Text


@dataclass(frozen=True, slots=True)
class InsurerInfo:
    """The insurance company as printed on documents."""

    name: str
    phone: str  # the claims hotline, as printed ("8 800 100-00-00")
    website: str = ""
    licence: str = ""  # Bank of Russia licence, e.g. "ОС № 0000-00"

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.phone.strip():
            raise ValueError("the insurer needs a name and a phone")


def section(title: str) -> list[Block]:
    """A rule and a bold heading: the start of a numbered part of a document."""
    return [Separator(), Text(title, bold=True)]


def heading(title: str) -> list[Block]:
    """A blank line and a bold heading: a lighter section start than ``section``."""
    return [Feed(), Text(title, bold=True)]


def bullets(items: list[str] | tuple[str, ...], marker: str = "- ") -> list[Block]:
    """Items as list lines whose continuation lines hang under the text."""
    return [Text(marker + item, indent=len(marker)) for item in items]
