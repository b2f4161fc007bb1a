"""Kiosk configuration: a TOML file, overridable from the environment (pydantic-settings).

Relative paths in the file are resolved against the file's directory, so the shipped
``config/kiosk.toml`` works from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["DEFAULT_CONFIG", "ConfigError", "KioskSettings", "load_settings"]

#: The configuration shipped in the repository: every device on its simulator.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "kiosk.toml"


class ConfigError(ValueError):
    """The configuration file is missing or invalid."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KioskSection(_Section):
    """Identity of this kiosk."""

    id: str = "KIOSK-0001"
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class TariffSection(_Section):
    """Where the tariff tables and the insurer's base rates are."""

    dir: Path = Path("tariffs")
    base_rates: Path = Path("base_rates.toml")


class DataSection(_Section):
    """Where the kiosk keeps its state (journal, keys, logs)."""

    dir: Path = Path("../var")


class KioskSettings(BaseSettings):
    """The whole kiosk configuration."""

    model_config = SettingsConfigDict(env_prefix="OSAGO_", env_nested_delimiter="__", extra="forbid", frozen=True)

    kiosk: KioskSection = KioskSection()
    tariffs: TariffSection = TariffSection()
    data: DataSection = DataSection()
    #: the file this configuration was read from (relative paths are resolved against its directory)
    source: Path = DEFAULT_CONFIG

    @property
    def zone(self) -> ZoneInfo:
        """The kiosk's local time zone."""
        return ZoneInfo(self.kiosk.timezone)

    def path(self, value: Path) -> Path:
        """A configured path made absolute against the configuration file's directory."""
        return value if value.is_absolute() else (self.source.parent / value).resolve()


def load_settings(path: str | Path | None = None) -> KioskSettings:
    """Read the configuration: ``path``, else $OSAGO_KIOSK_CONFIG, else the shipped default."""
    file = Path(path or os.environ.get("OSAGO_KIOSK_CONFIG") or DEFAULT_CONFIG).resolve()
    if not file.is_file():
        raise ConfigError(f"configuration file not found: {file}")

    class _FromFile(KioskSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # Environment beats the file: a systemd drop-in can change one key without editing it.
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=file))

    try:
        loaded = _FromFile(source=file)
    except ValueError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    return KioskSettings.model_validate(loaded.model_dump())
