"""Tariff bundles: checksum and validation before use, atomic install, the kiosk loads them, falls back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.bootstrap import tariff_engine
from kiosk.config import load_settings
from kiosk.tariff_store import install_bundle, installed_bundle
from kiosk.tariffs import TariffTableError
from kiosk.tariffs.bundle import TariffBundle


def _bundle(config_dir: Path) -> TariffBundle:
    tables = {p.name: p.read_bytes() for p in sorted((config_dir / "tariffs").glob("*.toml"))}
    rates = config_dir / "base_rates.toml"
    return TariffBundle.build(tables, rates.name, rates.read_bytes())


def test_a_bundle_survives_the_wire_and_names_its_newest_edition(config_dir: Path) -> None:
    bundle = _bundle(config_dir)
    again = TariffBundle.from_json(json.loads(json.dumps(bundle.to_json(), ensure_ascii=False)))
    assert again.checksum == bundle.checksum
    assert again.version == "7204-U"


def test_a_bundle_whose_files_do_not_match_the_checksum_is_refused(config_dir: Path) -> None:
    doc = _bundle(config_dir).to_json()
    doc["base_rates"]["content"] = doc["base_rates"]["content"].replace("8665", "8666", 1)
    with pytest.raises(TariffTableError, match="checksum"):
        TariffBundle.from_json(doc)


def test_a_bundle_that_does_not_validate_is_refused_even_with_a_matching_checksum(config_dir: Path) -> None:
    bundle = _bundle(config_dir)
    tables = dict(bundle.tables)
    tables["6007-U.toml"] = tables["6007-U.toml"].replace(b"[edition]", b"[edition]\nbogus = 1", 1)
    doc = TariffBundle(tables, bundle.base_rates_name, bundle.base_rates, bundle.version).to_json()
    with pytest.raises(TariffTableError):
        TariffBundle.from_json(doc)


@pytest.mark.parametrize("name", ["../evil.toml", ".hidden.toml", "tables/x.toml", "x.txt"])
def test_file_names_cannot_escape_the_bundle_directory(config_dir: Path, name: str) -> None:
    doc = _bundle(config_dir).to_json()
    doc["tables"][0]["name"] = name
    with pytest.raises(TariffTableError, match="file name"):
        TariffBundle.from_json(doc)


def test_the_kiosk_prices_with_the_installed_bundle_and_falls_back_when_it_is_damaged(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSAGO_DATA__DIR", str(tmp_path))
    settings = load_settings(config_dir / "kiosk.toml")
    bundle = _bundle(config_dir)
    installed = install_bundle(tmp_path, bundle)
    again = install_bundle(tmp_path, bundle)

    assert installed.checksum == again.checksum == bundle.checksum
    assert (tmp_path / "tariffs" / "current").is_symlink()
    assert tariff_engine(settings).book.current_versions[-1] == "7204-U"
    engine_dir = installed_bundle(tmp_path)
    assert engine_dir is not None and engine_dir.tables.is_relative_to(tmp_path)

    (installed.tables / "6007-U.toml").write_text("garbage = [", encoding="utf-8")
    assert tariff_engine(settings).book.current_versions[-1] == "7204-U"  # the shipped tables
