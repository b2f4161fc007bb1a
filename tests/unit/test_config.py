"""Kiosk configuration: the shipped file, environment overrides, relative paths, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import DEFAULT_CONFIG, ConfigError, UiSection, load_settings


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


def test_service_cards_are_read_from_the_config(tmp_path: Path) -> None:
    from kiosk.service_access import PinHash

    pin_hash = str(PinHash.create("4826", log2_n=10))
    config = tmp_path / "kiosk.toml"
    config.write_text(
        '[cardreader]\nurl = "pcsc://?reader=ACS"\n'
        f'[service_card]\npin_attempts = 3\n[[service_card.cards]]\nid = "TECH-0042"\npin = "{pin_hash}"\n',
        encoding="utf-8",
    )

    settings = load_settings(config)

    assert settings.cardreader.url == "pcsc://?reader=ACS"
    assert [(c.id, c.pin, c.enabled) for c in settings.service_card.cards] == [("TECH-0042", pin_hash, True)]
    assert settings.data_path(settings.service_card.attempts_file) == tmp_path.parent / "var/service-attempts.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[cardreader]\nurl = "nfc://"\n', "scheme"),
        ('[[service_card.cards]]\nid = "tech 1"\npin = "x"\n', "service card id"),
        ('[[service_card.cards]]\nid = "TECH-1"\npin = "4826"\n', "PIN hash"),
        ("[service_card]\npin_attempts = 0\n", "pin_attempts"),
    ],
    ids=["url", "card-id", "plain-pin", "attempts"],
)
def test_bad_service_card_settings_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_a_card_listed_twice_is_a_config_error(tmp_path: Path) -> None:
    from kiosk.service_access import PinHash

    pin_hash = str(PinHash.create("4826", log2_n=10))
    card = f'[[service_card.cards]]\nid = "TECH-1"\npin = "{pin_hash}"\n'
    config = tmp_path / "kiosk.toml"
    config.write_text(card + card, encoding="utf-8")

    with pytest.raises(ConfigError, match="listed twice"):
        load_settings(config)


def test_the_shipped_config_runs_the_touchscreen_in_kiosk_mode_in_russian() -> None:
    ui = load_settings().ui
    assert ui.fullscreen and ui.borderless and not ui.show_cursor and not ui.exit_on_escape
    assert not ui.multitouch_emulation and ui.language == "ru" and "en" in ui.languages
    assert ui.idle_seconds > ui.idle_warning_seconds > 0


def test_an_unknown_touchscreen_language_is_refused() -> None:
    with pytest.raises(ValueError, match="ru or en"):
        UiSection(language="de")
