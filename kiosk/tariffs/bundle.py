"""The tariff bundle the central server ships to kiosks: the edition files and the base rates, with a checksum.

Pure: the server builds a bundle from its configured files, the kiosk checks the checksum and then
validates the contents with ``parse_tariff_files`` / ``parse_base_rates`` before using them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.tariffs.base_rates import BaseRates, parse_base_rates
from kiosk.tariffs.loader import TariffBook, TariffTableError, parse_tariff_files

__all__ = ["TariffBundle", "bundle_checksum"]

_SAFE_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def bundle_checksum(tables: Mapping[str, bytes], base_rates_name: str, base_rates: bytes) -> str:
    """SHA-256 over every file's name and content hash, tables in name order, then the base rates."""
    digest = hashlib.sha256(b"osago-tariff-bundle-1\n")
    for name in sorted(tables):
        digest.update(f"table\0{name}\0{hashlib.sha256(tables[name]).hexdigest()}\n".encode())
    digest.update(f"rates\0{base_rates_name}\0{hashlib.sha256(base_rates).hexdigest()}\n".encode())
    return digest.hexdigest()


def _file_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.endswith(".toml") or not set(name) <= _SAFE_NAME or name.startswith("."):
        raise TariffTableError(what, "name", f"unsafe or non-TOML file name {name!r}")
    return name


@dataclass(frozen=True)
class TariffBundle:
    """Tariff table files and the base-rate file, as bytes, with the version they resolve to."""

    tables: dict[str, bytes]
    base_rates_name: str
    base_rates: bytes
    version: str

    @property
    def checksum(self) -> str:
        """The bundle's checksum (see ``bundle_checksum``)."""
        return bundle_checksum(self.tables, self.base_rates_name, self.base_rates)

    def validate(self) -> tuple[TariffBook, BaseRates]:
        """Parse everything exactly as the kiosk's loader would (``TariffTableError`` on any problem)."""
        book = parse_tariff_files(self.tables)
        return book, parse_base_rates(self.base_rates_name, self.base_rates, book)

    @classmethod
    def build(cls, tables: Mapping[str, bytes], base_rates_name: str, base_rates: bytes) -> TariffBundle:
        """A validated bundle; its version is the newest edition id."""
        for name in tables:
            _file_name(name, "bundle")
        book = parse_tariff_files(tables)
        parse_base_rates(base_rates_name, base_rates, book)
        return cls(dict(tables), _file_name(base_rates_name, "bundle"), base_rates, book.current_versions[-1])

    def to_json(self) -> dict[str, Any]:
        """The wire form (UTF-8 text of each file)."""
        return {
            "version": self.version,
            "checksum": self.checksum,
            "tables": [{"name": name, "content": self.tables[name].decode("utf-8")} for name in sorted(self.tables)],
            "base_rates": {"name": self.base_rates_name, "content": self.base_rates.decode("utf-8")},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TariffBundle:
        """Read the wire form, check the checksum, validate the tables (``TariffTableError`` otherwise)."""
        try:
            tables = {
                _file_name(item["name"], "bundle"): str(item["content"]).encode("utf-8") for item in doc["tables"]
            }
            rates = doc["base_rates"]
            rates_name = _file_name(rates["name"], "bundle")
            rates_content = str(rates["content"]).encode("utf-8")
            checksum = str(doc["checksum"])
        except (KeyError, TypeError) as exc:
            raise TariffTableError("bundle", "", f"malformed tariff bundle: {exc!r}") from None
        if not tables:
            raise TariffTableError("bundle", "tables", "a bundle without tariff tables")
        if bundle_checksum(tables, rates_name, rates_content) != checksum:
            raise TariffTableError("bundle", "checksum", "checksum does not match the files")
        return cls.build(tables, rates_name, rates_content)
