"""Server configuration: a TOML file, overridable from the environment (pydantic-settings).

The file is ``--config FILE``, else ``$OSAGO_SERVER_CONFIG``, else the shipped ``config/server.toml``.
Any key can be overridden as ``OSAGO_SERVER_<SECTION>__<KEY>`` (e.g. ``OSAGO_SERVER_DATA__DIR``,
``OSAGO_SERVER_DATABASE__URL``). Relative paths are resolved against the file's directory.
"""

from __future__ import annotations

import ipaddress
import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from limits import parse as parse_rate
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
    #: addresses (or networks) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    trusted_proxies: tuple[str, ...] = ()
    #: the Secure flag on cookies: "auto" when the request came over HTTPS (as a trusted proxy says)
    secure_cookies: Literal["auto", "always", "never"] = "auto"

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        return value


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


class LimitSection(_Section):
    """What a stranger can make the server do: request body sizes and request rates (``limits`` syntax)."""

    #: body of ``POST /api/v1/events`` (a kiosk sends 200 events of ~1 KB at most), bytes
    kiosk_batch_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    #: body of any other kiosk request (a contract, an application), bytes
    kiosk_request_bytes: int = Field(default=131_072, ge=1024, le=16 * 1_048_576)
    #: body of the login and dashboard forms, bytes
    form_bytes: int = Field(default=16_384, ge=512, le=1_048_576)
    #: body of anything else (pages are fetched with GET and carry none), bytes
    other_bytes: int = Field(default=4096, ge=0, le=1_048_576)
    #: failed log-ins per operator name before the name is locked for the rest of the window
    login_per_user: str = "10/15 minutes"
    #: failed log-ins per client address before the address is locked for the rest of the window
    login_per_address: str = "20/15 minutes"
    #: public policy checks per client address
    check_per_address: str = "30/minute"
    #: password hashes computed at once (scrypt takes 32 MiB each); more log-ins wait their turn
    concurrent_logins: int = Field(default=4, ge=1, le=64)
    #: where the counters live (shared by every worker): empty = SQLite ``<data dir>/limits.db`` next
    #: to a SQLite database, the ``rate_limits`` table of a PostgreSQL one; or a ``limits`` storage URI
    #: such as ``memory://`` (one worker only) or ``redis://host:6379``
    storage: str = ""

    @field_validator("login_per_user", "login_per_address", "check_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ValueError:
            raise ValueError(f"not a rate such as '10/15 minutes': {value!r}") from None
        return value


class KeySection(_Section):
    """The key file that encrypts personal data and kiosk secrets in the database (kept apart from it)."""

    #: Fernet keys, one a line, the first encrypts (mode 0600); empty: <data dir>/keys/server.key
    file: Path | None = None


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
    limits: LimitSection = LimitSection()
    keys: KeySection = KeySection()
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

    @property
    def key_file(self) -> Path:
        """The encryption key file (absolute)."""
        return self.path(self.keys.file) if self.keys.file else self.data_dir / "keys" / "server.key"

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
