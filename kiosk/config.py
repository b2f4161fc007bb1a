"""Kiosk configuration: a TOML file, overridable from the environment (pydantic-settings).

Relative paths in the file are resolved against the file's directory, so the shipped
``config/kiosk.toml`` works from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from drivers.cardreader import parse_url, validate_card_id
from kiosk.service_access import PinHash
from kiosk.settings_file import Section, known_zone, read_settings

__all__ = ["DEFAULT_CONFIG", "ConfigError", "KioskSettings", "load_settings"]

#: The configuration shipped in the repository: every device on its simulator.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "kiosk.toml"


class ConfigError(ValueError):
    """The configuration file is missing or invalid."""


class _Section(Section):
    """A section of this file."""


class KioskSection(_Section):
    """Identity of this kiosk."""

    id: str = "KIOSK-0001"
    timezone: str = "Europe/Moscow"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class TariffSection(_Section):
    """Where the tariff tables and the insurer's base rates are."""

    dir: Path = Path("tariffs")
    base_rates: Path = Path("base_rates.toml")


class DataSection(_Section):
    """Where the kiosk keeps its state (journal, keys, logs)."""

    dir: Path = Path("../var")
    #: free space the data directory must have for the kiosk to start and to take a payment (MB)
    min_free_mb: int = Field(default=200, ge=1, le=100_000)
    #: the journal's second record (identity and last change); relative to the data directory
    sidecar: Path = Path("journal.sidecar")


class CardReaderSection(_Section):
    """The service card reader, by URL (grammar in ``drivers.cardreader``)."""

    url: str = "sim://cardreader"

    @field_validator("url")
    @classmethod
    def _known_url(cls, value: str) -> str:
        parse_url(value)
        return value


class ServiceCard(_Section):
    """One technician's card: its id and the salted hash of its PIN (never the PIN)."""

    id: str
    pin: str
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _card_id(cls, value: str) -> str:
        return validate_card_id(value)

    @field_validator("pin")
    @classmethod
    def _pin_hash(cls, value: str) -> str:
        PinHash.parse(value)
        return value


class ServiceCardSection(_Section):
    """Technician access: the master key file, the PIN policy and the cards."""

    #: 64 hex digits, mode 0600; per-card keys are derived from it (relative to this file's directory)
    master_key_file: Path = Path("../var/service-card.key")
    #: wrong PIN counts and lockouts (relative to the data directory)
    attempts_file: Path = Path("service-attempts.json")
    pin_attempts: int = Field(default=5, ge=1, le=20)
    lockout_minutes: float = Field(default=30, gt=0, le=7 * 24 * 60)
    idle_minutes: float = Field(default=10, gt=0, le=24 * 60)
    cards: tuple[ServiceCard, ...] = ()

    @field_validator("cards")
    @classmethod
    def _unique(cls, value: tuple[ServiceCard, ...]) -> tuple[ServiceCard, ...]:
        ids = [card.id for card in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"service card ids listed twice: {', '.join(duplicates)}")
        return value


class DiagnosticsSection(_Section):
    """The technician's diagnostics: where journal backups may go, and how often health is reported."""

    #: mount points of removable media are looked for under these directories (usbmount, udisks)
    media_roots: tuple[Path, ...] = (Path("/media"), Path("/run/media"))
    #: offered besides the mounted media (e.g. a network share); relative to the data directory
    backup_dir: Path = Path("backups")
    #: minutes between ``device.health`` events for the operator's dashboard (never during a sale)
    health_minutes: float = Field(default=10, gt=0, le=24 * 60)


class DevicesSection(_Section):
    """Each device by URL (see README): the default runs every device on its simulator."""

    terminal: str = "sim://terminal"
    printer: str = "sim://printer"


class InsurerSection(_Section):
    """The insurer: how to reach it, and how it appears on printed documents."""

    url: str = "sim://insurer"
    name: str = "АО «Страховая компания «Пример»"
    licence: str = "ОС № 0000-03"
    phone: str = "8 800 100-00-00"
    website: str = "example.ru"
    #: the public policy check the printed QR code points to
    check_url: str = "http://127.0.0.1:8080/check"
    #: dataset of the in-process simulator (url = "sim://insurer")
    simulator: Path = Path("insurer_simulator.toml")


class SaleSection(_Section):
    """Rules of the sale that are the insurer's or the regulator's to set."""

    #: earliest contract start, in days after today (e-OSAGO: 3 days after the application, 4723-У)
    earliest_start_days: int = 3
    #: days personal data stays on the kiosk after the server acknowledged the sale
    retention_days: int = 30


class PrivacySection(_Section):
    """Encryption of personal data at rest."""

    #: Fernet key file (mode 0600); empty: <data dir>/keys/personal.key, created on first start
    key_file: str = ""


class ServerSection(_Section):
    """The central server: sync of the outbox, application statuses and tariff bundles."""

    #: base URL of the central server (the same server is the insurer when [insurer] url is http(s))
    url: str = "http://127.0.0.1:8080"
    #: this kiosk's signing secret, 64 hex digits, mode 0600 (``osago-server kiosk add ID --key-file``)
    key_file: Path = Path("../var/server.key")
    connect_timeout: float = Field(default=5, gt=0, le=120)
    read_timeout: float = Field(default=20, gt=0, le=600)
    #: attempts after the first for calls that are safe to repeat (backoff doubles from ``backoff``)
    retries: int = Field(default=4, ge=0, le=20)
    backoff: float = Field(default=0.5, ge=0, le=60)
    #: outbox events per batch
    batch_size: int = Field(default=200, ge=1, le=1000)
    #: how often sync asks for a new tariff bundle (hours); the kiosk also asks at start
    tariff_update_hours: float = Field(default=6, gt=0, le=24 * 7)
    tariffs_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("the server URL starts with http:// or https://")
        return value


class UiSection(_Section):
    """The touchscreen: kiosk mode, timings, language (``osago-kiosk run --windowed`` overrides the mode)."""

    #: fullscreen on the kiosk's panel; the window size below is for the windowed developer mode
    fullscreen: bool = True
    borderless: bool = True
    show_cursor: bool = False
    #: ESC and the window's close button do nothing (SIGTERM from systemd still stops the kiosk)
    exit_on_escape: bool = False
    #: a right click leaves Kivy's red multitouch dot unless this is off
    multitouch_emulation: bool = False
    width: int = Field(default=1280, ge=640, le=7680)
    height: int = Field(default=800, ge=480, le=4320)
    #: quiet seconds before "Вы ещё здесь?", then seconds of its countdown before everything is wiped
    idle_seconds: float = Field(default=90, ge=5, le=3600)
    idle_warning_seconds: float = Field(default=20, ge=3, le=300)
    #: seconds the payment screen waits for the card before it asks the terminal to abort
    payment_seconds: int = Field(default=120, ge=20, le=600)
    #: the out-of-service screen (the journal guard refused the journal): how long it stays before the
    #: process exits with code 75 for systemd to start it and verify again (doubling after each refusal in a
    #: row, up to the maximum), and how often it checks the journal meanwhile
    out_of_service_minutes: float = Field(default=2, ge=0.5, le=120)
    out_of_service_max_minutes: float = Field(default=30, ge=0.5, le=24 * 60)
    out_of_service_recheck_seconds: float = Field(default=30, ge=1, le=3600)
    #: the language the kiosk greets in, and the ones a customer may switch to
    language: str = "ru"
    languages: tuple[str, ...] = ("ru", "en")
    #: consent documents (texts and versions), relative to this file's directory
    consents: Path = Path("consents.toml")

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - {"ru", "en"})
        if unknown or not value:
            raise ValueError(f"languages: ru and en are available, not {', '.join(unknown) or 'none'}")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("ru", "en"):
            raise ValueError(f"language: ru or en, not {value!r}")
        return value


class KioskSettings(BaseSettings):
    """The whole kiosk configuration."""

    model_config = SettingsConfigDict(env_prefix="OSAGO_", env_nested_delimiter="__", extra="forbid", frozen=True)

    kiosk: KioskSection = KioskSection()
    tariffs: TariffSection = TariffSection()
    data: DataSection = DataSection()
    cardreader: CardReaderSection = CardReaderSection()
    service_card: ServiceCardSection = ServiceCardSection()
    devices: DevicesSection = DevicesSection()
    diagnostics: DiagnosticsSection = DiagnosticsSection()
    insurer: InsurerSection = InsurerSection()
    sale: SaleSection = SaleSection()
    privacy: PrivacySection = PrivacySection()
    server: ServerSection = ServerSection()
    ui: UiSection = UiSection()
    #: the file this configuration was read from (relative paths are resolved against its directory)
    source: Path = DEFAULT_CONFIG

    @property
    def zone(self) -> ZoneInfo:
        """The kiosk's local time zone."""
        return ZoneInfo(self.kiosk.timezone)

    def path(self, value: Path) -> Path:
        """A configured path made absolute against the configuration file's directory."""
        return value if value.is_absolute() else (self.source.parent / value).resolve()

    def data_path(self, value: Path) -> Path:
        """A configured path made absolute against the data directory."""
        return value if value.is_absolute() else self.path(self.data.dir) / value

    @property
    def data_dir(self) -> Path:
        """The kiosk's state directory (absolute)."""
        return self.path(self.data.dir)

    @property
    def key_file(self) -> Path:
        """The personal-data key file, and whether the kiosk may create it (only the default one)."""
        return (
            self.path(Path(self.privacy.key_file)) if self.privacy.key_file else self.data_dir / "keys" / "personal.key"
        )


def load_settings(path: str | Path | None = None) -> KioskSettings:
    """Read the configuration: ``path``, else $OSAGO_KIOSK_CONFIG, else the shipped default."""
    file = Path(path or os.environ.get("OSAGO_KIOSK_CONFIG") or DEFAULT_CONFIG).resolve()
    if not file.is_file():
        raise ConfigError(f"configuration file not found: {file}")

    return read_settings(KioskSettings, file, ConfigError)
