"""Settings read from a TOML file with environment overrides (pydantic-settings).

Shared by the kiosk's configuration (``kiosk.config``) and the central server's (``server.config``):
the environment beats the file, so a systemd drop-in can change one key without editing the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

__all__ = ["Section", "known_zone", "read_settings"]

S = TypeVar("S", bound=BaseSettings)


class Section(BaseModel):
    """A configuration section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def known_zone(value: str) -> str:
    """An IANA time zone name (``ValueError`` otherwise)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def read_settings(cls: type[S], file: Path, error: type[Exception], **init: Any) -> S:
    """``cls`` from ``file`` and the environment (``init`` beats both); ``error`` names the file on failure."""

    class _FromFile(cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=file))

    try:
        loaded = _FromFile(source=file, **init)
    except ValueError as exc:
        raise error(f"{file}: {exc}") from None
    return cls.model_validate(loaded.model_dump())
