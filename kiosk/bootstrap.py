"""The one place that builds real objects from configuration.

Services receive what they need as parameters; tests pass fakes instead of calling these builders.
Device backends are opened by URL through the driver packages, which import their device libraries
only when a URL needs them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from drivers.cardreader import ServiceCardReader, open_reader
from drivers.payment import PaymentTerminal, open_terminal
from drivers.printer import ReceiptPrinter, open_printer
from kiosk.config import ConfigError, KioskSettings
from kiosk.diagnostics import Diagnostics, ServerNotConfiguredError, ServerStatus
from kiosk.documents.common import InsurerInfo
from kiosk.documents.letter import OfficeInfo
from kiosk.insurer import GatewayRejectedError, InsurerGateway
from kiosk.insurer.simulator import InsurerSimulator, SimulatorDataset
from kiosk.journal.db import Journal
from kiosk.journal.guard import GuardedJournal, JournalGuard, ServerEvents, StoredEvent
from kiosk.journal.models import JournalEntry
from kiosk.logs import log_file
from kiosk.privacy import PersonalDataCipher
from kiosk.sale.paper import Paper
from kiosk.sale.service import Checkpoint, SaleConfig, SaleService
from kiosk.service_access import (
    AccessPolicy,
    AccessState,
    AuditEvent,
    Clock,
    PinHash,
    ServiceAccess,
    load_master_key,
)
from kiosk.service_mode import ServiceMode
from kiosk.service_store import JsonAttemptStore
from kiosk.tariff_store import installed_bundle
from kiosk.tariffs import TariffEngine, TariffTableError, load_base_rates, load_tariff_book

if TYPE_CHECKING:
    from kiosk.insurer.http import ServerClient
    from kiosk.sale.recovery import Recovered
    from kiosk.sync import SyncReport

__all__ = [
    "Kiosk",
    "build_kiosk",
    "card_reader",
    "diagnostics",
    "insurer_gateway",
    "journal_audit",
    "journal_guard",
    "journal_path",
    "refresh_tariffs",
    "server_client",
    "server_events",
    "server_probe",
    "service_access",
    "service_mode",
    "sidecar_path",
    "sim_url",
    "start_up",
    "sync_runner",
    "tariff_engine",
]

log = logging.getLogger(__name__)


def tariff_engine(settings: KioskSettings) -> TariffEngine:
    """The tariffs in force: the bundle last installed from the server, else the shipped tables.

    A bundle that no longer loads (a damaged disk, a newer format) is logged and skipped: the kiosk
    keeps selling on the tables it was shipped with.
    """
    bundle = installed_bundle(settings.data_dir)
    if bundle is not None:
        try:
            book = load_tariff_book(bundle.tables)
            return TariffEngine(book, load_base_rates(bundle.base_rates, book))
        except (TariffTableError, OSError) as exc:
            log.error("tariff bundle %s unusable, using the shipped tables: %s", bundle.version, exc)
    book = load_tariff_book(settings.path(settings.tariffs.dir))
    rates = load_base_rates(settings.path(settings.tariffs.base_rates), book)
    return TariffEngine(book, rates)


def server_client(settings: KioskSettings, *, url: str | None = None, retries: int | None = None) -> ServerClient:
    """The signed client of the central server (``[server]``; the key file must exist, mode 0600)."""
    from kiosk.insurer.http import ClientSettings, ServerClient

    section = settings.server
    base = url or section.url
    if not base:
        raise ValueError("no central server configured ([server] url)")
    return ServerClient.from_key_file(
        base,
        settings.kiosk.id,
        settings.path(section.key_file),
        ClientSettings(
            connect_timeout=section.connect_timeout,
            read_timeout=section.read_timeout,
            retries=section.retries if retries is None else retries,
            backoff=section.backoff,
        ),
    )


def server_problem(settings: KioskSettings) -> str | None:
    """Why the kiosk cannot talk to its central server (in Russian for the technician), or None."""
    if not settings.server.url:
        return "адрес центрального сервера не задан ([server] url)"
    key = settings.path(settings.server.key_file)
    if not key.exists():
        return f"нет ключа киоска {key} (osago-server kiosk add {settings.kiosk.id} --key-file …)"
    return None


def _configured_client(settings: KioskSettings, *, retries: int | None = None) -> ServerClient:
    problem = server_problem(settings)
    if problem is not None:
        raise ServerNotConfiguredError(problem)
    try:
        return server_client(settings, retries=retries)
    except (ValueError, PermissionError, GatewayRejectedError) as exc:
        raise ServerNotConfiguredError(f"центральный сервер настроен неверно: {exc}") from None


def server_probe(settings: KioskSettings) -> Callable[[], ServerStatus] | None:
    """For the server tile: reachability and clock skew from ``GET /api/v1/status`` (None: no server configured).

    Each probe builds a client with no retries (the key may be installed while the kiosk runs) and closes it.
    """
    if not settings.server.url:
        return None
    from kiosk.sync import probe_server

    def probe() -> ServerStatus:
        try:
            client = _configured_client(settings, retries=0)
        except ServerNotConfiguredError as exc:
            return ServerStatus(False, None, exc.reason, configured=False)
        try:
            return probe_server(client)
        finally:
            client.close()

    return probe


def sync_runner(kiosk: Kiosk) -> Callable[[Callable[[int], object] | None], SyncReport]:
    """ "Sync now" for the technician: one ``run_sync`` with the kiosk's journal and cipher.

    Raises ``ServerNotConfiguredError`` when there is no server URL or kiosk key.
    """
    settings = kiosk.settings

    def run(on_batch: Callable[[int], object] | None) -> SyncReport:
        from kiosk.sync import run_sync

        client = _configured_client(settings)
        try:
            return run_sync(
                kiosk.journal,
                client,
                kiosk_id=settings.kiosk.id,
                cipher=kiosk.service.cipher,
                data_dir=settings.data_dir,
                batch_size=settings.server.batch_size,
                retention_days=settings.sale.retention_days,
                tariff_every=timedelta(hours=settings.server.tariff_update_hours),
                on_batch=on_batch,
            )
        finally:
            client.close()

    return run


def journal_audit(journal: Journal) -> Callable[[AuditEvent], None]:
    """Write every service-card event (refusal, wrong PIN, lockout, opening, closing) to the journal."""

    def record(event: AuditEvent) -> None:
        try:
            with journal.transaction() as session:
                session.add(
                    JournalEntry(
                        at=event.at,
                        # Only a card that proved itself is an actor; a claimed id stays in the detail.
                        actor=event.card_id if event.verified and event.card_id else "unverified",
                        action=f"service_card.{event.kind.value}",
                        detail=event.as_dict(),
                    )
                )
        except Exception:  # the audit must not take the card reader's thread down
            log.exception("service card event not journaled: %s", event.kind.value)

    return record


def refresh_tariffs(settings: KioskSettings) -> None:
    """Ask the server for a newer tariff bundle at start (quietly skipped when not configured or offline)."""
    if not settings.server.tariffs_on_start or not settings.server.url:
        return
    if not settings.path(settings.server.key_file).exists():
        return
    from kiosk.sync import update_tariffs

    try:
        # One quick try: a kiosk must not wait at start for a server that is down.
        client = server_client(settings, retries=0)
    except (ValueError, PermissionError) as exc:
        log.warning("tariff update at start skipped: %s", exc)
        return
    try:
        result = update_tariffs(client, settings.data_dir, state_file=settings.data_dir / "sync-state.json")
        log.info("tariff update at start: %s %s", result.outcome, result.version or "")
    finally:
        client.close()


def card_reader(settings: KioskSettings, **kw: Any) -> ServiceCardReader:
    """The service card reader named by ``[cardreader] url`` (not started)."""
    return open_reader(settings.cardreader.url, **kw)


def service_access(
    settings: KioskSettings,
    *,
    audit: Callable[[AuditEvent], None] | None = None,
    clock: Clock | None = None,
) -> ServiceAccess:
    """Technician access from ``[service_card]``: master key file, enabled cards, PIN policy, attempt file."""
    section = settings.service_card
    policy = AccessPolicy(
        max_attempts=section.pin_attempts,
        lockout=timedelta(minutes=section.lockout_minutes),
        idle=timedelta(minutes=section.idle_minutes),
    )
    return ServiceAccess(
        master_key=load_master_key(settings.path(section.master_key_file)),
        cards={card.id: PinHash.parse(card.pin) for card in section.cards if card.enabled},
        store=JsonAttemptStore(settings.data_path(section.attempts_file)),
        policy=policy,
        clock=clock,
        audit=audit,
    )


def service_mode(
    settings: KioskSettings,
    *,
    on_change: Callable[[AccessState], None] | None = None,
    audit: Callable[[AuditEvent], None] | None = None,
    reader: ServiceCardReader | None = None,
    clock: Clock | None = None,
) -> ServiceMode:
    """The service card reader and technician access put together (call ``start()`` to watch)."""
    return ServiceMode(
        reader or card_reader(settings),
        service_access(settings, audit=audit, clock=clock),
        on_change,
    )


def journal_path(settings: KioskSettings) -> Path:
    """The journal database file."""
    return settings.data_dir / "journal.db"


def sidecar_path(settings: KioskSettings) -> Path:
    """The journal's second record (``[data] sidecar``, relative to the data directory)."""
    return settings.data_path(settings.data.sidecar)


#: bytes in the megabytes of ``[data] min_free_mb``
MB = 1024 * 1024


def server_events(settings: KioskSettings) -> ServerEvents | None:
    """The central server's stored events of this kiosk (one quick try each; None when not configured).

    The guard and the reconciliation of a restored journal compare the journal with them; a server that
    does not answer now yields None (the check is skipped, the reconciliation waits).
    """
    if server_problem(settings) is not None:
        return None
    from kiosk.insurer.port import GatewayError
    from kiosk.sync import stored_events

    def fetch(since: Any, limit: int) -> list[StoredEvent] | None:
        try:
            client = server_client(settings, retries=0)
        except (ValueError, PermissionError, GatewayError) as exc:
            log.warning("central server not usable for the journal check: %s", exc)
            return None
        try:
            return stored_events(client, since, limit, timeout=(2.0, 5.0))
        except GatewayError as exc:
            log.warning("central server did not list this kiosk's events: %s", exc)
            return None
        finally:
            client.close()

    return fetch


def journal_guard(
    settings: KioskSettings, *, server: bool = True, connection_factory: type[Any] | None = None
) -> JournalGuard:
    """The guard of this kiosk's journal (``server``: also compare with the central server when reachable)."""
    evidence = [settings.data_dir / "sync-state.json"]
    if not settings.privacy.key_file:
        evidence.append(settings.key_file)  # made at the first start next to the journal
    return JournalGuard(
        data_dir=settings.data_dir,
        journal_file=journal_path(settings),
        sidecar_file=sidecar_path(settings),
        kiosk_id=settings.kiosk.id,
        min_free_bytes=settings.data.min_free_mb * MB,
        evidence=evidence,
        server_events=server_events(settings) if server else None,
        connection_factory=connection_factory,
    )


def sim_url(url: str, **defaults: str) -> str:
    """A sim:// URL with default options added (files under the data dir); other URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme != "sim":
        return url
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in defaults.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def insurer_gateway(settings: KioskSettings) -> InsurerGateway:
    """The insurer named by ``[insurer] url``: ``sim://insurer`` in process, or the central server over HTTP(S)."""
    url = settings.insurer.url
    if url.startswith(("http://", "https://")):
        from kiosk.insurer.http import HttpInsurerGateway

        return HttpInsurerGateway(server_client(settings, url=url))
    if url.startswith("sim://insurer"):
        faults = {v for k, v in parse_qsl(urlsplit(url).query) if k == "fault"}
        return InsurerSimulator(
            SimulatorDataset.load(settings.path(settings.insurer.simulator)),
            state_file=settings.data_dir / "insurer-sim.sqlite",
            faults=faults,
        )
    raise ValueError(f"unsupported insurer URL {url!r} (sim://insurer or http(s)://server)")


@dataclass
class Kiosk:
    """Everything a running kiosk holds; ``close`` releases devices and the journal."""

    settings: KioskSettings
    journal: Journal
    service: SaleService
    terminal: PaymentTerminal
    printer: ReceiptPrinter
    insurer: InsurerGateway
    closers: list[object] = field(default_factory=list)
    #: what the journal guard found (None: the journal was handed in unguarded, e.g. by a test)
    guarded: GuardedJournal | None = None

    def close(self) -> None:
        """Stop simulators, release the line and the printer, close the database."""
        for device in (self.terminal, self.printer):
            with contextlib.suppress(Exception):
                device.close()
        self.journal.close()


@contextlib.contextmanager
def _bad_url_is_config(what: str) -> Iterator[None]:
    """A device URL the driver refuses (a ``ValueError``) is the configuration's fault: ``ConfigError``."""
    try:
        yield
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from exc


def build_kiosk(
    settings: KioskSettings,
    *,
    terminal_url: str | None = None,
    printer_url: str | None = None,
    checkpoint: Checkpoint | None = None,
    guard: JournalGuard | None = None,
) -> Kiosk:
    """Verify the journal (``JournalRefusedError`` if the guard refuses it), then open every device
    named by the configuration (or the given URLs)."""
    data = settings.data_dir
    guarded = (guard or journal_guard(settings)).open()
    assert guarded is not None
    journal = guarded.journal
    try:
        cipher = PersonalDataCipher.from_key_file(settings.key_file, create=not settings.privacy.key_file)
        refresh_tariffs(settings)
        engine = tariff_engine(settings)
        with _bad_url_is_config("[insurer] url"):
            insurer = insurer_gateway(settings)
        with _bad_url_is_config("адрес терминала"):
            terminal = open_terminal(
                sim_url(terminal_url or settings.devices.terminal, ledger=str(data / "terminal-ledger.jsonl"))
            )
    except BaseException:
        journal.close()
        raise
    try:
        with _bad_url_is_config("адрес принтера"):
            printer = open_printer(
                sim_url(printer_url or settings.devices.printer, jobs=str(data / "printer-jobs.jsonl"))
            )
    except BaseException:
        terminal.close()
        journal.close()
        raise
    simulator = insurer if isinstance(insurer, InsurerSimulator) else None
    offices = tuple(
        OfficeInfo(o["name"], o["address"], o.get("hours", ""), o.get("phone", ""))
        for o in (simulator.dataset.offices if simulator else ())
    ) or (OfficeInfo(settings.insurer.name, "адрес уточните по телефону " + settings.insurer.phone),)
    config = SaleConfig(
        kiosk_id=settings.kiosk.id,
        zone=settings.zone,
        paper=Paper(
            InsurerInfo(
                settings.insurer.name, settings.insurer.phone, settings.insurer.website, settings.insurer.licence
            ),
            settings.insurer.check_url,
            settings.zone,
        ),
        offices=offices,
        earliest_start_days=settings.sale.earliest_start_days,
        retention_days=settings.sale.retention_days,
        data_dir=data,
        min_free_bytes=settings.data.min_free_mb * MB,
    )
    service = SaleService(
        journal=journal, tariffs=engine, terminal=terminal, printer=printer, insurer=insurer, cipher=cipher,
        config=config, checkpoint=checkpoint,
    )  # fmt: skip
    return Kiosk(settings, journal, service, terminal, printer, insurer, guarded=guarded)


def start_up(kiosk: Kiosk) -> list[Recovered]:
    """Before the first sale: reconcile a restored (or new) journal with the terminal and the server, then
    resolve the sales a crash left unfinished. ``JournalRefusedError`` while the reconciliation cannot run."""
    from kiosk.sale.reconcile import reconcile_journal
    from kiosk.sale.recovery import recover

    guarded = kiosk.guarded
    if guarded is not None and guarded.needs_reconcile:
        settings = kiosk.settings
        reconcile_journal(kiosk.service, server_events(settings), server_configured=server_problem(settings) is None)
        if kiosk.journal.sidecar is not None:
            guarded.record = kiosk.journal.sidecar.read()
    return recover(kiosk.service)


def diagnostics(
    kiosk: Kiosk,
    *,
    reader_status: Callable[[], Any] | None = None,
    server_status: Callable[[], Any] | None = None,
    sync: bool = False,
) -> Diagnostics:
    """The technician's checks and actions over a built kiosk: the kiosk's own terminal and printer
    (never a second connection), guarded by the sale's device lock; ``sync`` adds "sync now"."""
    settings = kiosk.settings
    return Diagnostics(
        kiosk_id=settings.kiosk.id,
        journal=kiosk.journal,
        terminal=kiosk.terminal,
        printer=kiosk.printer,
        insurer=kiosk.insurer,
        tariffs=kiosk.service.tariffs,
        data_dir=settings.data_dir,
        log_path=log_file(settings.data_dir),
        printer_url=settings.devices.printer,
        reader_status=reader_status,
        server_status=server_status,
        sync=sync_runner(kiosk) if sync else None,
        device_lock=kiosk.service.device_lock,
        clock=kiosk.service.clock,
        zone=settings.zone,
        disk_red_bytes=settings.data.min_free_mb * MB,
    )
