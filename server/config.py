"""Server configuration: a TOML file, overridable from the environment (pydantic-settings).

The file is ``--config FILE``, else ``$OSAGO_SERVER_CONFIG``, else the shipped ``config/server.toml``.
Any key can be overridden as ``OSAGO_SERVER_<SECTION>__<KEY>`` (e.g. ``OSAGO_SERVER_DATA__DIR``,
``OSAGO_SERVER_DATABASE__URL``). Relative paths are resolved against the file's directory.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kiosk.money import parse_amount
from kiosk.settings_file import Section, known_zone, read_settings

__all__ = ["DEFAULT_CONFIG", "ServerConfigError", "ServerSettings", "load_server_settings"]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "server.toml"


class ServerConfigError(ValueError):
    """The server configuration is missing or invalid."""


class _Section(Section):
    """A section of this file."""


class HttpSection(_Section):
    """Where the server listens and the address printed on policies."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    #: the public base URL of this server (the QR code on a policy points at <public_url>/check)
    public_url: str = "http://127.0.0.1:8080"


class DataSection(_Section):
    """The server's state directory (SQLite database when no PostgreSQL is configured)."""

    dir: Path = Path("../var/server")


class DatabaseSection(_Section):
    """The database: empty means SQLite in the data directory; ``postgresql+psycopg://…`` for PostgreSQL."""

    url: str = ""
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=20, ge=0, le=500)


class AuthSection(_Section):
    """Kiosk request signatures."""

    #: a signed request older or newer than this (seconds) is refused; nonces are kept this long
    window_seconds: int = Field(default=300, ge=5, le=3600)


class InsurerSection(_Section):
    """The insurer this server belongs to (public check page, reports)."""

    name: str = "АО «Страховая компания «Пример»"
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class PolicySection(_Section):
    """The policy number range this server issues from."""

    series: str = "ХХХ"
    first_number: int = Field(default=200000001, ge=1, le=9_999_999_999)
    last_number: int = Field(default=299999999, ge=1, le=9_999_999_999)

    @field_validator("series")
    @classmethod
    def _cyrillic(cls, value: str) -> str:
        if len(value) != 3 or not all("А" <= ch <= "Я" or ch == "Ё" for ch in value):
            raise ValueError("a policy series is three Cyrillic capitals")
        return value


class RsaSection(_Section):
    """RSA AIS: ``sim://rsa`` (the simulator with its dataset; ``?fault=unavailable`` for tests)."""

    url: str = "sim://rsa"
    dataset: Path = Path("rsa_simulator.toml")


class TariffSection(_Section):
    """The tariff tables and base rates the server prices renewals with and ships to kiosks."""

    dir: Path = Path("tariffs")
    base_rates: Path = Path("base_rates.toml")


def _target(value: object) -> Decimal:
    return parse_amount(value, "reports.targets", "план продаж", allow_zero=True)


class ReportSection(_Section):
    """Dashboard and reminder rules (insurers' practice: remind 30 days ahead, lapsed after 48 h)."""

    renewal_days: int = Field(default=30, ge=1, le=90)
    lapsed_hours: int = Field(default=48, ge=1, le=24 * 30)
    chart_days: int = Field(default=30, ge=7, le=366)
    #: a kiosk not heard from for this long is shown as offline
    offline_minutes: int = Field(default=30, ge=1)
    session_hours: float = Field(default=12, gt=0, le=24 * 7)
    #: monthly premium target per kiosk (roubles); ``default`` applies to kiosks not listed
    targets: dict[str, Annotated[Decimal, BeforeValidator(_target)]] = Field(default_factory=dict)


class Operator(_Section):
    """An operator of the dashboard: name and scrypt password hash (``osago-server operator hash``)."""

    name: str
    password: str


class ServerSettings(BaseSettings):
    """The whole server configuration."""

    model_config = SettingsConfigDict(
        env_prefix="OSAGO_SERVER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    http: HttpSection = HttpSection()
    data: DataSection = DataSection()
    database: DatabaseSection = DatabaseSection()
    auth: AuthSection = AuthSection()
    insurer: InsurerSection = InsurerSection()
    policies: PolicySection = PolicySection()
    rsa: RsaSection = RsaSection()
    tariffs: TariffSection = TariffSection()
    reports: ReportSection = ReportSection()
    operators: tuple[Operator, ...] = ()
    source: Path = DEFAULT_CONFIG

    @property
    def zone(self) -> ZoneInfo:
        """The insurer's local time zone (days in reports)."""
        return ZoneInfo(self.insurer.timezone)

    def path(self, value: Path) -> Path:
        """A configured path made absolute against the configuration file's directory."""
        return value if value.is_absolute() else (self.source.parent / value).resolve()

    @property
    def data_dir(self) -> Path:
        """The state directory (absolute)."""
        return self.path(self.data.dir)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the database."""
        return self.database.url or f"sqlite:///{self.data_dir / 'server.db'}"

    def target(self, kiosk_id: str) -> Decimal | None:
        """The monthly premium target of a kiosk, if any."""
        targets = self.reports.targets
        return targets.get(kiosk_id, targets.get("default"))


def load_server_settings(path: str | Path | None = None, **overrides: Any) -> ServerSettings:
    """Read the configuration: ``path``, else $OSAGO_SERVER_CONFIG, else the shipped default."""
    file = Path(path or os.environ.get("OSAGO_SERVER_CONFIG") or DEFAULT_CONFIG).resolve()
    if not file.is_file():
        raise ServerConfigError(f"configuration file not found: {file}")

    return read_settings(ServerSettings, file, ServerConfigError, **overrides)
