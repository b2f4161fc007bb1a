"""Kiosk configuration: the shipped file, environment overrides, relative paths, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import DEFAULT_CONFIG, ConfigError, load_settings


def test_shipped_config_resolves_paths_against_its_own_directory() -> None:
    settings = load_settings(DEFAULT_CONFIG)

    assert settings.path(settings.tariffs.dir) == DEFAULT_CONFIG.parent / "tariffs"
    assert settings.zone.key == "Europe/Moscow"


def test_environment_overrides_a_key_of_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSAGO_KIOSK__ID", "KIOSK-0042")

    assert load_settings(DEFAULT_CONFIG).kiosk.id == "KIOSK-0042"


def test_config_file_from_the_environment_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[data]\ndir = "state"\n', encoding="utf-8")
    monkeypatch.setenv("OSAGO_KIOSK_CONFIG", str(config))

    settings = load_settings()

    assert settings.path(settings.data.dir) == tmp_path / "state"


@pytest.mark.parametrize(
    "text",
    ['[kiosk]\ntimezone = "Mars/Olympus"\n', "[kiosk]\nidd = 1\n", "[nonsense]\nx = 1\n"],
    ids=["zone", "key", "section"],
)
def test_invalid_config_is_a_config_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError):
        load_settings(config)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")
