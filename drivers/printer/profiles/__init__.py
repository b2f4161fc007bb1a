"""Printer profiles as data: one TOML file per printer model in this folder.

A profile says what differs between printers that all speak "ESC/POS": paper width (dots and
columns), which ``ESC t`` number selects PC866 (Epson 17, clones differ), cut and presenter commands,
whether the printer has native QR/barcodes, and which extended status it answers. A site with a
printer not listed here adds a TOML file and points the URL at it (``?profile=/path/to/file.toml``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from drivers.printer.errors import ProfileError

DEFAULT_PROFILE = "epson-80"

CutMode = Literal["full", "partial"]
ExtendedStatus = Literal["none", "custom"]

# Code pages the formatter can encode; the names are python-escpos/escpos-printer-db names.
KNOWN_CODE_PAGES = frozenset({"CP866", "CP1251"})


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    """What the formatter and the status reader need to know about one printer model."""

    name: str
    description: str
    paper_mm: int
    dpi: int
    width_dots: int
    columns: int
    columns_small: int
    code_page: str
    code_page_number: int
    qr: bool = True
    barcode: bool = True
    cut: CutMode = "full"
    kanji_off: bool = False
    presenter: bytes = b""
    extended_status: ExtendedStatus = "none"
    status_timeout: float = 0.4

    def __post_init__(self) -> None:
        if not 0 <= self.code_page_number <= 255:
            raise ProfileError(f"{self.name}: code page number {self.code_page_number} is not a byte")
        if self.code_page not in KNOWN_CODE_PAGES:
            raise ProfileError(f"{self.name}: code page {self.code_page} is not one of {sorted(KNOWN_CODE_PAGES)}")
        if not 16 <= self.columns <= self.columns_small <= 96:
            raise ProfileError(f"{self.name}: columns {self.columns}/{self.columns_small} are implausible")
        if self.width_dots < self.columns * 8:
            raise ProfileError(f"{self.name}: {self.width_dots} dots cannot hold {self.columns} columns")
        if self.cut not in ("full", "partial"):
            raise ProfileError(f"{self.name}: cut must be 'full' or 'partial'")
        if self.extended_status not in ("none", "custom"):
            raise ProfileError(f"{self.name}: extended status must be 'none' or 'custom'")
        if not 0.05 <= self.status_timeout <= 5:
            raise ProfileError(f"{self.name}: status timeout must be 50..5000 ms")

    @property
    def has_presenter(self) -> bool:
        """Whether a present command follows the cut."""
        return bool(self.presenter)


def available_profiles() -> tuple[str, ...]:
    """Names of the profiles shipped with the package, sorted."""
    folder = resources.files(__name__)
    return tuple(sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")))


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> PrinterProfile:
    """A shipped profile by name, or a profile TOML file by path."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"cannot read printer profile {path}: {exc}") from exc
    else:
        resource = resources.files(__name__) / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ProfileError(f"unknown printer profile {name_or_path!r}; known: {', '.join(available_profiles())}")
        text = resource.read_text(encoding="utf-8")
    try:
        return profile_from_mapping(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"printer profile {name_or_path}: {exc}") from exc


def profile_from_mapping(data: dict[str, Any]) -> PrinterProfile:
    """Build a profile from the parsed TOML, refusing unknown or missing keys."""
    try:
        code_page = data["code_page"]
        features = data.get("features", {})
        presenter = data.get("presenter", {})
        status = data.get("status", {})
        _no_extra(data, {"name", "description", "paper_mm", "dpi", "width_dots", "columns", "columns_small",
                         "code_page", "features", "presenter", "status"}, "profile")  # fmt: skip
        _no_extra(code_page, {"name", "number"}, "code_page")
        _no_extra(features, {"qr", "barcode", "cut", "kanji_off"}, "features")
        _no_extra(presenter, {"command"}, "presenter")
        _no_extra(status, {"extended", "timeout_ms"}, "status")
        return PrinterProfile(
            name=str(data["name"]),
            description=str(data.get("description", data["name"])),
            paper_mm=int(data["paper_mm"]),
            dpi=int(data["dpi"]),
            width_dots=int(data["width_dots"]),
            columns=int(data["columns"]),
            columns_small=int(data["columns_small"]),
            code_page=str(code_page["name"]).upper(),
            code_page_number=int(code_page["number"]),
            qr=bool(features.get("qr", True)),
            barcode=bool(features.get("barcode", True)),
            cut=features.get("cut", "full"),
            kanji_off=bool(features.get("kanji_off", False)),
            presenter=bytes.fromhex(str(presenter.get("command", ""))),
            extended_status=status.get("extended", "none"),
            status_timeout=int(status.get("timeout_ms", 400)) / 1000,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"invalid printer profile: {exc!r}") from exc


def _no_extra(section: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(section) - allowed
    if extra:
        raise ProfileError(f"unknown key(s) in {where}: {', '.join(sorted(extra))}")
