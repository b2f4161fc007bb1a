"""The consent documents (texts as data, each with its own version) read from a TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ui.presenters.sale import Consent

__all__ = ["load_consents"]

_REQUIRED_KEYS = ("personal_data", "policy_terms")


def _reflow(text: str) -> str:
    """Paragraphs as written in the file (blank-line separated) with their line breaks undone."""
    paragraphs = [" ".join(block.split()) for block in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


def load_consents(path: Path) -> list[Consent]:
    """Documents in screen order; the personal-data consent and the policy terms must be there."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    if doc.get("schema") != 1:
        raise ValueError(f"{path}: expected schema = 1")
    out = []
    for index, raw in enumerate(doc.get("documents", [])):
        try:
            out.append(
                Consent(
                    key=str(raw["key"]),
                    title=str(raw["title"]),
                    version=str(raw["version"]),
                    text=_reflow(str(raw["text"])),
                    required=bool(raw.get("required", True)),
                    agree=str(raw.get("agree", "Согласен(на)")),
                )
            )
        except KeyError as exc:
            raise ValueError(f"{path}: documents[{index}] has no {exc.args[0]!r}") from None
    keys = [c.key for c in out]
    missing = [k for k in _REQUIRED_KEYS if k not in keys]
    if missing or len(set(keys)) != len(keys):
        raise ValueError(f"{path}: documents must include {', '.join(_REQUIRED_KEYS)} once each")
    return out
