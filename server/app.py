"""The FastAPI application: kiosk API, public check, dashboard — built from settings (no import-time state)."""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

from fastapi import FastAPI

from kiosk.tariffs.bundle import TariffBundle
from server.api import ApiContext, build_api
from server.auth import KioskAuthenticator, OperatorAuth
from server.config import ServerSettings, load_server_settings
from server.db import Database, open_database
from server.registry import Registry
from server.reports import Reports
from server.rsa import RsaAis, open_rsa
from server.web import build_web

__all__ = ["app_from_env", "create_app", "load_bundle", "open_server_database", "settle_collector"]

log = logging.getLogger(__name__)


def load_bundle(settings: ServerSettings) -> TariffBundle:
    """The tariff bundle from the configured tables and base rates (validated as a kiosk would)."""
    folder = settings.path(settings.tariffs.dir)
    tables = {path.name: path.read_bytes() for path in sorted(folder.glob("*.toml"))}
    rates = settings.path(settings.tariffs.base_rates)
    return TariffBundle.build(tables, rates.name, rates.read_bytes())


def open_server_database(settings: ServerSettings, *, create: bool = True) -> Database:
    """The configured database (created or migrated)."""
    return open_database(
        settings.database_url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        create=create,
    )


def create_app(settings: ServerSettings, *, database: Database | None = None, rsa: RsaAis | None = None) -> FastAPI:
    """Build the whole application."""
    database = database or open_server_database(settings)
    rsa = rsa or open_rsa(settings.rsa.url, settings.path(settings.rsa.dataset))
    registry = Registry(database, rsa, settings)
    registry.ensure_ranges()
    bundle = load_bundle(settings)
    operators = OperatorAuth(database, {o.name: o.password for o in settings.operators}, settings.reports.session_hours)
    app = FastAPI(
        title="OSAGO central server",
        version="1",
        description=(
            "Kiosk API: every /api/v1 request is signed with the kiosk's secret (HMAC-SHA256, see README "
            "'Central server and sync'). Public: /check. Operators: /dashboard."
        ),
    )
    authenticator = KioskAuthenticator(database, settings.auth.window_seconds)
    app.state.authenticator = authenticator
    app.include_router(build_api(ApiContext(registry, authenticator, bundle)))
    app.include_router(build_web(settings, registry, Reports(database, settings), operators))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "tariff_version": bundle.version}

    app.state.database = database
    app.state.registry = registry
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
