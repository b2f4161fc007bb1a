"""The consumer memo: what to do after an accident and how claims are paid (wording is data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drivers.printer.layout import Align, Block, Cut, Document, Separator, Text, Title
from kiosk.documents.common import InsurerInfo, bullets, heading
from kiosk.documents.text import load_template


@dataclass(frozen=True, slots=True)
class MemoPrintData:
    """Who to call; ``policy`` is the series and number, when the memo goes with a policy."""

    insurer: InsurerInfo
    policy: str | None = None


def memo_items(template: Mapping[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The memo's sections as (heading, items); each item has ``text`` and maybe ``verify``."""
    return [(s["heading"], list(s["items"])) for s in template["sections"]]


def memo_document(data: MemoPrintData, template: Mapping[str, Any] | None = None) -> Document:
    """The memo as a layout."""
    t = template or load_template("memo")
    values = {
        "insurer_name": data.insurer.name,
        "insurer_phone": data.insurer.phone,
        "policy": data.policy or "",
    }
    blocks: list[Block] = [Title(t["title"]), Text(t["subtitle"], align=Align.CENTER), Separator()]
    if data.policy:
        blocks.append(Text(t["policy_line"].format_map(values), align=Align.CENTER, bold=True))
    for title, items in memo_items(t):
        blocks += heading(title)
        blocks += bullets([item["text"].format_map(values) for item in items])
    blocks += [Text(t["footer"], small=True), Cut()]
    return Document.of("memo", blocks)
