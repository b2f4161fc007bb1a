"""The FastAPI application: kiosk API, public check, dashboard — built from settings (no import-time state)."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import inspect, select, text
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kiosk.tariffs.bundle import TariffBundle
from server.api import ApiContext, build_api
from server.auth import KioskAuthenticator, OperatorAuth
from server.config import ServerSettings, load_server_settings
from server.db import Database, open_database
from server.guard import BodyLimits, RequestGuard, SecurityHeaders
from server.keys import INDEX_KEY, Keyring, KeyringError
from server.registry import Registry
from server.reports import Reports
from server.rsa import RsaAis, open_rsa
from server.throttle import Throttle, open_limit_storage
from server.web import build_web

__all__ = [
    "STATIC",
    "app_from_env",
    "create_app",
    "load_bundle",
    "open_keyring",
    "open_server_database",
    "settle_collector",
]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def load_bundle(settings: ServerSettings) -> TariffBundle:
    """The tariff bundle from the configured tables and base rates (validated as a kiosk would)."""
    folder = settings.path(settings.tariffs.dir)
    tables = {path.name: path.read_bytes() for path in sorted(folder.glob("*.toml"))}
    rates = settings.path(settings.tariffs.base_rates)
    return TariffBundle.build(tables, rates.name, rates.read_bytes())


def _sealed_before(database: Database) -> bool:
    """Whether this database already holds data sealed with some key file (its index key exists)."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("server_secrets"):
            return False
        query = text("SELECT 1 FROM server_secrets WHERE name = :name")
        return connection.execute(query, {"name": INDEX_KEY}).first() is not None


def open_keyring(settings: ServerSettings, database: Database) -> Keyring:
    """The key file's keys; a missing file is created only for a database that holds nothing sealed yet.

    A database sealed before whose key file is gone must not get a new key silently: its data would
    be unreadable, so that is a ``KeyringError`` telling the operator to restore the file.
    """
    file = settings.key_file
    if not file.exists() and _sealed_before(database):
        raise KeyringError(
            f"encryption key file not found: {file}; this database was encrypted with it — restore the file "
            "from its backup (a new key cannot read the data)"
        )
    keyring = Keyring.from_file(file, create=True)
    return keyring


def open_server_database(settings: ServerSettings, *, create: bool = True) -> Database:
    """The configured database with its keyring (created or migrated with ``create``)."""
    database = open_database(
        settings.database_url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        create=False,
    )
    try:
        keyring = open_keyring(settings, database)
        database.close()
        database = open_database(
            settings.database_url,
            keyring=keyring,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
            create=create,
        )
        _check_keyring(database)
    except BaseException:
        database.close()
        raise
    return database


def _check_keyring(database: Database) -> None:
    """Open one sealed value of each kind now, so a wrong key file stops the start, not a request."""
    from server.models import Kiosk, Policy

    with database.session() as session:
        session.scalars(select(Kiosk.secret).limit(1)).all()
        session.scalars(select(Policy.owner).order_by(Policy.id.desc()).limit(1)).all()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and what, never the input (it may be personal, or text JSON cannot carry)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": error.get("type"),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def create_app(settings: ServerSettings, *, database: Database | None = None, rsa: RsaAis | None = None) -> FastAPI:
    """Build the whole application."""
    database = database or open_server_database(settings)
    rsa = rsa or open_rsa(settings.rsa.url, settings.path(settings.rsa.dataset))
    registry = Registry(database, rsa, settings)
    registry.ensure_ranges()
    bundle = load_bundle(settings)
    limits = settings.limits
    throttle = Throttle(
        open_limit_storage(limits.storage, database.engine, settings.data_dir),
        login_per_user=limits.login_per_user,
        login_per_address=limits.login_per_address,
        check_per_address=limits.check_per_address,
    )
    operators = OperatorAuth(
        database,
        {o.name: o.password for o in settings.operators},
        settings.reports.session_hours,
        throttle=throttle,
        concurrent=limits.concurrent_logins,
    )
    app = FastAPI(
        title="OSAGO central server",
        version="1",
        description=(
            "Kiosk API: every /api/v1 request is signed with the kiosk's secret (HMAC-SHA256, see README "
            "'Central server and sync'). Public: /check. Operators: /dashboard."
        ),
        # The interactive docs load scripts from a CDN: not on an isolated network, not under our CSP.
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    authenticator = KioskAuthenticator(database, settings.auth.window_seconds)
    app.state.authenticator = authenticator
    app.include_router(build_api(ApiContext(registry, bundle)))
    app.include_router(build_web(settings, registry, Reports(database, settings), operators, throttle=throttle))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "tariff_version": bundle.version}

    body_limits = BodyLimits(
        limits.kiosk_batch_bytes, limits.kiosk_request_bytes, limits.form_bytes, limits.other_bytes
    )
    # Added inside out: the proxy's word on the client comes first, the headers go on every answer.
    app.add_middleware(RequestGuard, limits=body_limits, authenticator=authenticator)
    app.add_middleware(SecurityHeaders)
    if settings.http.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.http.trusted_proxies))
    app.state.database = database
    app.state.registry = registry
    app.state.throttle = throttle
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory for worker processes: settings from $OSAGO_SERVER_CONFIG and the environment."""
    settings = load_server_settings(os.environ.get("OSAGO_SERVER_CONFIG"))
    app = create_app(settings, database=open_server_database(settings, create=False))
    settle_collector()
    return app


def settle_collector() -> None:
    """Tune the garbage collector for serving, once the application is built.

    Everything built so far lives as long as the process: keep it out of the collector's full passes,
    and collect the young generation less often (a 100-event batch allocates thousands of objects).
    Both cut the pauses that a kiosk waiting on sync sees as its slowest answers.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
