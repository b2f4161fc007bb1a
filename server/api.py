"""The kiosk API (``/api/v1``): every route needs a request signed with the kiosk's secret.

``server.guard`` has checked the signature (and bounded the body) before a route sees the request;
a route learns which kiosk signed it from the ``Kiosk`` dependency.

Errors are JSON ``{"detail": "…"}``: 401 for a refused signature (one answer for every reason), 404
for an unknown policy or application, 409 for a contract the register refuses, 413 for a body over
the limit, 422 for a malformed request, 503 when RSA AIS is down (the kiosk then offers the
application path).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response

from kiosk.tariffs.bundle import TariffBundle
from server.guard import KIOSK_SCOPE_KEY, REFUSED
from server.ingest import ingest_events, stored_events
from server.models import Application, Policy
from server.registry import NotFoundError, Registry, RegistryError, UnavailableError
from server.schemas import (
    ApplicationIn,
    ApplicationOut,
    CancelIn,
    EventBatch,
    IngestAnswer,
    IngestProblem,
    KbmAnswerOut,
    KbmIn,
    KbmOut,
    PolicyIn,
    PolicyOut,
    StatusOut,
    StoredEventOut,
    StoredEventsOut,
)

__all__ = ["ApiContext", "build_api"]

log = logging.getLogger(__name__)

IdempotencyKey = Annotated[
    str,
    Header(alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9:._-]+$"),
]
UNAUTHORISED: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed, bad signature, stale, replayed, unknown or disabled kiosk (one answer)"},
    413: {"description": "body over the limit"},
}


class ApiContext:
    """What the routes need: the register and the tariff bundle."""

    def __init__(self, registry: Registry, bundle: TariffBundle) -> None:
        self.registry = registry
        self.bundle = bundle
        self.bundle_json = bundle.to_json()


def _policy_out(policy: Policy) -> PolicyOut:
    return PolicyOut(
        series=policy.series,
        number=policy.number,
        status=policy.status,
        registered_at=policy.registered_at,
        period_start=policy.period_start,
        period_end=policy.period_end,
    )


def _application_out(application: Application) -> ApplicationOut:
    return ApplicationOut(
        number=application.number,
        status=application.status,
        office=application.office,
        updated_at=application.updated_at,
    )


def signed_kiosk(request: Request) -> str:
    """The dependency every kiosk route has: the id of the kiosk whose signature the guard verified."""
    kiosk_id = request.scope.get(KIOSK_SCOPE_KEY)
    if not isinstance(kiosk_id, str):
        raise HTTPException(401, REFUSED)
    return kiosk_id


Kiosk = Annotated[str, Depends(signed_kiosk)]


def build_api(context: ApiContext) -> APIRouter:
    """The ``/api/v1`` routes bound to ``context``."""

    router = APIRouter(prefix="/api/v1", responses=UNAUTHORISED)
    registry = context.registry

    @router.get("/status", response_model=StatusOut, tags=["kiosk"])
    def status(kiosk_id: Kiosk) -> StatusOut:
        """Whether registration is possible now (RSA AIS answering)."""
        return StatusOut(kiosk_id=kiosk_id, server_time=dt.datetime.now(dt.UTC), rsa_available=registry.rsa.available())

    @router.post("/kbm", response_model=KbmOut, tags=["kiosk"], responses={503: {"description": "RSA AIS down"}})
    def kbm(body: KbmIn, kiosk_id: Kiosk) -> KbmOut:
        """КБМ classes of the people asked about, in order, as RSA AIS answers them."""
        try:
            records = registry.kbm([p.document for p in body.people], body.on)
        except UnavailableError as exc:
            raise HTTPException(503, exc.message) from None
        return KbmOut(
            answers=[
                KbmAnswerOut(
                    document=r.document,
                    kbm_class=r.kbm_class,
                    found=r.found,
                    request_id=r.request_id,
                    losses=r.losses,
                    previous_policy=r.previous_policy,
                    previous_insurer=r.previous_insurer,
                )
                for r in records
            ]
        )

    @router.post(
        "/policies",
        response_model=PolicyOut,
        tags=["kiosk"],
        responses={409: {"description": "contract refused"}, 503: {"description": "RSA AIS down"}},
    )
    def register_policy(body: PolicyIn, kiosk_id: Kiosk, key: IdempotencyKey) -> PolicyOut:
        """Register a contract and issue series and number; a repeated Idempotency-Key returns the same policy."""
        try:
            return _policy_out(registry.register_policy(kiosk_id, key, body))
        except UnavailableError as exc:
            raise HTTPException(503, exc.message) from None
        except RegistryError as exc:
            raise HTTPException(409, exc.message) from None

    @router.get("/policies/by-key", response_model=PolicyOut, tags=["kiosk"], responses={404: {"description": "none"}})
    def find_policy(
        kiosk_id: Kiosk, key: Annotated[str, Query(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9:._-]+$")]
    ) -> PolicyOut:
        """The policy this kiosk registered with that Idempotency-Key (never registers)."""
        policy = registry.find_policy(kiosk_id, key)
        if policy is None:
            raise HTTPException(404, "полис с таким ключом не регистрировался")
        return _policy_out(policy)

    @router.post(
        "/policies/cancel", response_model=PolicyOut, tags=["kiosk"], responses={404: {"description": "unknown"}}
    )
    def cancel_policy(body: CancelIn, kiosk_id: Kiosk, key: IdempotencyKey) -> PolicyOut:
        """Annul a policy of this kiosk whose payment did not go through (idempotent)."""
        try:
            return _policy_out(registry.cancel_policy(kiosk_id, body.series, body.number, body.reason or key))
        except NotFoundError as exc:
            raise HTTPException(404, exc.message) from None

    @router.post("/applications", response_model=ApplicationOut, tags=["kiosk"])
    def submit_application(body: ApplicationIn, kiosk_id: Kiosk, key: IdempotencyKey) -> ApplicationOut:
        """File an application (status "в обработке"); a repeated Idempotency-Key returns the same number."""
        return _application_out(registry.submit_application(kiosk_id, key, body))

    @router.get("/applications", response_model=list[ApplicationOut], tags=["kiosk"])
    def applications(kiosk_id: Kiosk, since: dt.datetime | None = None) -> list[ApplicationOut]:
        """This kiosk's applications changed after ``since`` (ISO time with zone), oldest change first."""
        if since is not None and since.tzinfo is None:
            raise HTTPException(422, "since needs a time zone")
        return [_application_out(a) for a in registry.applications_since(kiosk_id, since)]

    @router.get(
        "/applications/{number}",
        response_model=ApplicationOut,
        tags=["kiosk"],
        responses={404: {"description": "unknown"}},
    )
    def application(number: str, kiosk_id: Kiosk) -> ApplicationOut:
        """One application's status."""
        try:
            return _application_out(registry.application(kiosk_id, number))
        except NotFoundError as exc:
            raise HTTPException(404, exc.message) from None

    @router.post("/events", response_model=IngestAnswer, tags=["kiosk"], responses={403: {"description": "foreign"}})
    def events(body: EventBatch, kiosk_id: Kiosk) -> IngestAnswer:
        """Store outbox events exactly once by ``event_id``; the answer lists every id the server now holds."""
        foreign = [e.event_id for e in body.events if e.kiosk_id != kiosk_id]
        if foreign:
            raise HTTPException(403, f"events of another kiosk: {', '.join(foreign[:5])}")
        result = ingest_events(registry.db, kiosk_id, body.events, dt.datetime.now(dt.UTC))
        return IngestAnswer(
            acknowledged=result.acknowledged,
            stored=result.stored,
            duplicates=result.duplicates,
            problems=[IngestProblem(event_id=i, error=e) for i, e in result.problems],
        )

    @router.get("/events/stored", response_model=StoredEventsOut, tags=["kiosk"])
    def events_stored(
        kiosk_id: Kiosk,
        since: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> StoredEventsOut:
        """This kiosk's stored events created at or after ``since`` (ISO time with zone), oldest first: the
        kiosk checks at start-up that its journal is not older than the server, and reconciles a restored one."""
        if since is not None and since.tzinfo is None:
            raise HTTPException(422, "since needs a time zone")
        rows = stored_events(registry.db, kiosk_id, since, limit)
        return StoredEventsOut(
            events=[
                StoredEventOut(
                    event_id=e.event_id, kind=e.kind, sale_id=e.sale_id, created_at=e.created_at, payload=e.payload
                )
                for e in rows
            ]
        )

    @router.get("/tariffs/bundle", tags=["kiosk"], responses={304: {"description": "the kiosk has this bundle"}})
    def tariff_bundle(kiosk_id: Kiosk, if_none_match: Annotated[str | None, Header(max_length=200)] = None) -> Response:
        """The tariff tables and base rates with their checksum (ETag); 304 when the kiosk has them already."""
        etag = f'"{context.bundle.checksum}"'
        if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers={"ETag": etag})
        body = json.dumps(context.bundle_json, ensure_ascii=False).encode("utf-8")
        return Response(body, media_type="application/json", headers={"ETag": etag})

    return router
