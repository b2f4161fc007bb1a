"""Sync with the central server: push the outbox until acknowledged, pull application statuses,
refresh the tariff bundle, then purge personal data the server no longer needs the kiosk to keep.

The outbox goes oldest first in batches. An event is marked delivered only when the server's answer
lists its id; a lost answer means the batch is sent again and the server drops what it already has,
so every event reaches the server exactly once however often the network or the server fails.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kiosk import outbox
from kiosk.diagnostics import ServerStatus
from kiosk.insurer.http import ServerClient, ServerRefusedError, ServerUnreachableError
from kiosk.insurer.port import GatewayError
from kiosk.journal.db import Journal
from kiosk.journal.guard import StoredEvent
from kiosk.journal.models import ApplicationRecord
from kiosk.journal.sidecar import SidecarError
from kiosk.privacy import PersonalDataCipher
from kiosk.sale.retention import purge_personal_data
from kiosk.tariff_store import install_bundle, installed_bundle
from kiosk.tariffs import TariffTableError
from kiosk.tariffs.bundle import TariffBundle

__all__ = [
    "SyncError",
    "SyncReport",
    "TariffUpdate",
    "probe_server",
    "pull_applications",
    "push_outbox",
    "run_sync",
    "stored_events",
    "update_tariffs",
]

log = logging.getLogger(__name__)


class SyncError(IOError):
    """Sync stopped; ``reason`` is a plain sentence for the operator, ``unreachable`` tells which kind."""

    def __init__(self, reason: str, *, unreachable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


@dataclass
class TariffUpdate:
    """What a tariff check did: ``installed``, ``unchanged``, ``skipped`` (not due) or ``failed``."""

    outcome: str
    version: str | None = None
    detail: str = ""


@dataclass
class SyncReport:
    """What one sync run did."""

    sent: int = 0
    acknowledged: int = 0
    batches: int = 0
    remaining: int = 0
    problems: list[str] = field(default_factory=list)
    applications_updated: int = 0
    purged: int = 0
    tariffs: TariffUpdate | None = None
    error: SyncError | None = None

    @property
    def ok(self) -> bool:
        """The outbox is empty and nothing failed."""
        return self.error is None and self.remaining == 0


def _fail(exc: GatewayError, what: str) -> SyncError:
    if isinstance(exc, ServerRefusedError):
        return SyncError(f"сервер отказал ({what}): {exc.detail} [HTTP {exc.status}]", unreachable=False)
    if isinstance(exc, ServerUnreachableError):
        return SyncError(f"сервер недоступен ({what}): {exc}", unreachable=True)
    return SyncError(f"ошибка связи с сервером ({what}): {exc}", unreachable=True)


def push_outbox(
    journal: Journal,
    client: ServerClient,
    kiosk_id: str,
    cipher: PersonalDataCipher | None,
    *,
    batch_size: int,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    on_batch: Callable[[int], object] | None = None,
    report: SyncReport | None = None,
) -> SyncReport:
    """Send pending events oldest first until none is left; ``SyncError`` stops it (events stay pending)."""
    report = report or SyncReport()
    while True:
        with journal.session() as session:
            batch = outbox.pending(session, limit=batch_size)
            envelopes = [outbox.envelope(event, kiosk_id, cipher) for event in batch]
        if not envelopes:
            break
        ids = [e["event_id"] for e in envelopes]
        try:
            response = client.request("POST", "/api/v1/events", body={"events": envelopes}, retry=True)
            answer: dict[str, Any] = client.json(response)
        except GatewayError as exc:
            with journal.transaction() as session:
                outbox.mark_failed(session, ids, str(exc))
            raise _fail(exc, "отправка событий") from None
        acknowledged = [i for i in answer.get("acknowledged", []) if i in set(ids)]
        with journal.transaction() as session:
            outbox.mark_acked(session, acknowledged, now())
        _note_high_water(journal, [event.id for event in batch if event.event_id in set(acknowledged)])
        report.batches += 1
        report.sent += len(ids)
        report.acknowledged += len(acknowledged)
        report.problems += [f"{p['event_id']}: {p['error']}" for p in answer.get("problems", [])]
        if on_batch:
            on_batch(len(acknowledged))
        if not acknowledged:
            raise SyncError("сервер не подтвердил ни одного события пакета", unreachable=False)
    with journal.session() as session:
        report.remaining = outbox.pending_count(session)
    return report


def _note_high_water(journal: Journal, row_ids: list[int]) -> None:
    """The sidecar keeps the highest outbox row the server acknowledged (the guard compares it at start-up)."""
    if journal.sidecar is None or not row_ids:
        return
    try:
        journal.sidecar.acknowledged(max(row_ids))
    except (OSError, SidecarError) as exc:
        log.warning("acknowledged outbox mark not kept in the sidecar: %s", exc)


def stored_events(
    client: ServerClient, since: dt.datetime | None, limit: int, *, timeout: tuple[float, float] | None = None
) -> list[StoredEvent]:
    """This kiosk's events as the server stored them, created at or after ``since``, oldest first."""
    params = {"limit": str(limit)}
    if since is not None:
        params["since"] = since.astimezone(dt.UTC).isoformat()
    response = client.request("GET", "/api/v1/events/stored", params=params, retry=timeout is None, timeout=timeout)
    body = client.json(response)
    events = []
    for row in body.get("events", []):
        created = dt.datetime.fromisoformat(str(row["created_at"]))
        events.append(
            StoredEvent(
                event_id=str(row["event_id"]),
                kind=str(row["kind"]),
                sale_id=row.get("sale_id"),
                created_at=created if created.tzinfo else created.replace(tzinfo=dt.UTC),
                payload=dict(row.get("payload") or {}),
            )
        )
    return events


def _state(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    except (OSError, ValueError):
        return {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def pull_applications(journal: Journal, client: ServerClient, state_file: Path) -> int:
    """Copy status changes of this kiosk's applications into the journal; returns how many changed."""
    state = _state(state_file)
    params = {"since": state["applications_since"]} if state.get("applications_since") else None
    try:
        rows = client.json(client.request("GET", "/api/v1/applications", params=params))
    except GatewayError as exc:
        raise _fail(exc, "статусы заявлений") from None
    changed = 0
    with journal.transaction() as session:
        for row in rows:
            record = session.scalars(select(ApplicationRecord).where(ApplicationRecord.number == row["number"])).first()
            if record is not None and record.status != row["status"]:
                record.status = row["status"]
                changed += 1
    if rows:
        state["applications_since"] = rows[-1]["updated_at"]
        _save_state(state_file, state)
    return changed


def update_tariffs(
    client: ServerClient,
    data_dir: Path,
    *,
    state_file: Path,
    every: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> TariffUpdate:
    """Download the tariff bundle if it changed, verify and validate it, and make it current.

    With ``every``, nothing is asked before that much time passed since the last successful check.
    """
    moment = now or dt.datetime.now(dt.UTC)
    state = _state(state_file)
    last = state.get("tariffs_checked_at")
    if every is not None and last and moment - dt.datetime.fromisoformat(last) < every:
        return TariffUpdate("skipped", state.get("tariffs_version"))
    current = installed_bundle(data_dir)
    headers = {"If-None-Match": f'"{current.checksum}"'} if current else None
    try:
        response = client.request("GET", "/api/v1/tariffs/bundle", headers=headers)
        if response.status_code == 304 and current is not None:
            result = TariffUpdate("unchanged", current.version)
        else:
            bundle = TariffBundle.from_json(client.json(response))
            installed = install_bundle(data_dir, bundle)
            log.info("tariff bundle %s installed (%s)", installed.version, installed.checksum[:12])
            result = TariffUpdate("installed", installed.version)
    except GatewayError as exc:
        return TariffUpdate("failed", current.version if current else None, str(exc))
    except TariffTableError as exc:
        # A bundle that does not verify is never used; the kiosk keeps what it has.
        log.error("tariff bundle refused: %s", exc)
        return TariffUpdate("failed", current.version if current else None, f"пакет тарифов отклонён: {exc}")
    state.update(tariffs_checked_at=moment.isoformat(), tariffs_version=result.version)
    _save_state(state_file, state)
    return result


def run_sync(
    journal: Journal,
    client: ServerClient,
    *,
    kiosk_id: str,
    cipher: PersonalDataCipher | None,
    data_dir: Path,
    batch_size: int,
    retention_days: int,
    tariff_every: dt.timedelta | None,
    on_batch: Callable[[int], object] | None = None,
) -> SyncReport:
    """One full sync run; the report's ``error`` says why it stopped early."""
    report = SyncReport()
    state_file = data_dir / "sync-state.json"
    try:
        push_outbox(journal, client, kiosk_id, cipher, batch_size=batch_size, on_batch=on_batch, report=report)
        report.applications_updated = pull_applications(journal, client, state_file)
    except SyncError as exc:
        report.error = exc
    with journal.session() as session:
        report.remaining = outbox.pending_count(session)
    if report.error is None or not report.error.unreachable:
        report.tariffs = update_tariffs(client, data_dir, state_file=state_file, every=tariff_every)
    report.purged = purge_personal_data(journal, now=dt.datetime.now(dt.UTC), retention_days=retention_days)
    return report


def probe_server(
    client: ServerClient, *, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
) -> ServerStatus:
    """One quick ``GET /api/v1/status``: reachable, and the clock skew (kiosk minus server, seconds,
    measured against the middle of the round trip; positive means the kiosk's clock is ahead)."""
    before = now()
    try:
        response = client.request("GET", "/api/v1/status", retry=False, timeout=(2.0, 5.0))
        body = client.json(response)
        server_time = dt.datetime.fromisoformat(str(body["server_time"]))
    except GatewayError as exc:
        return ServerStatus(False, None, str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        return ServerStatus(False, None, f"непонятный ответ сервера: {exc}")
    after = now()
    if server_time.tzinfo is None:
        server_time = server_time.replace(tzinfo=dt.UTC)
    middle = before + (after - before) / 2
    return ServerStatus(True, round((middle - server_time).total_seconds(), 1), "")
