"""Fixtures for attacking the real server: the same PostgreSQL cluster and provisioning as the integration
tests, and servers configured the way an attack needs (a trusted proxy to speak for many addresses,
small limits so a test reaches them quickly)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.server.conftest import fast_client, fresh_database, postgres, provision
from tests.support.server_process import ServerProcess

__all__ = ["fresh_database", "postgres"]

PASSWORD = "operator-pass-2026"
_kiosks = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start_server(
    request: pytest.FixtureRequest, kind: str, root: Path, *, workers: int = 1, **env: str
) -> ServerProcess:
    """A started server on a fresh database of ``kind`` with ``env`` overriding its configuration."""
    url = fresh_database(request, kind, root)
    return ServerProcess(root / "server", url, workers=workers, extra_env=env).start(timeout=60)


def add_operator(server: ServerProcess, name: str, password: str = PASSWORD) -> None:
    added = server.cli("operator", "add", name, "--password-stdin", input=password + "\n")
    assert added.returncode == 0, added.stderr


def new_kiosk(server: ServerProcess, directory: Path) -> tuple[str, Path]:
    """A provisioned kiosk: its id and key file."""
    kiosk_id = f"KIOSK-{next(_kiosks):04d}"
    key_file = directory / f"{kiosk_id}.key"
    assert server.db_url is not None
    provision(server.db_url, kiosk_id, key_file, server.keyring())
    return kiosk_id, key_file


def push(server: ServerProcess, kiosk_id: str, key_file: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Send events as the kiosk would; the server's answer."""
    client = fast_client(server.url, kiosk_id, key_file)
    try:
        answer: dict[str, Any] = client.json(client.request("POST", "/api/v1/events", body={"events": events}))
    finally:
        client.close()
    return answer


def login_form(session: requests.Session, server: ServerProcess, **headers: str) -> str:
    """Open the log-in form (its cookie lands in ``session``); the form's CSRF token."""
    page = session.get(f"{server.url}/login", headers=headers, timeout=10)
    assert page.status_code == 200, page.text
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def log_in(
    server: ServerProcess, name: str, password: str = PASSWORD, *, address: str | None = None
) -> tuple[requests.Session, requests.Response]:
    """A log-in through the form as a browser does it (``address`` via X-Forwarded-For from the trusted proxy)."""
    session = requests.Session()
    headers = {"X-Forwarded-For": address} if address else {}
    token = login_form(session, server, **headers)
    answer = session.post(
        f"{server.url}/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/dashboard"},
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )
    return session, answer


def customer_events(
    kiosk_id: str, *, index: int = 0, days_left: int = 10
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One sold policy's events whose customer carries every kind of personal datum; (events, the data)."""
    from tests.support.sale_events import envelopes

    customer = {
        "last_name": "Подпольщиков",
        "first_name": "Аристарх",
        "middle_name": "Евграфович",
        "passport": "4517 982734",
        "phone": "+7 916 555-73-19",
        "address": "г. Тверь, ул. Трёхсвятская, д. 43, кв. 17",
        "licence": "99 07 864213",
        "plate": "Е421КХ69",
        "vin": "XTA219470N0731562",
    }
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=days_left)
    events = envelopes(kiosk_id, 1, first=7000 + index, at=end - dt.timedelta(days=366))
    for event in events:
        if event["kind"] == "policy.registered":
            event["payload"]["period_start"] = (end - dt.timedelta(days=365)).isoformat()
            event["payload"]["period_end"] = end.isoformat()
            person = {
                k: customer[k] for k in ("last_name", "first_name", "middle_name", "passport", "phone", "address")
            }
            person["birth_date"] = "1979-03-14"
            event["personal"] = {
                "policyholder": person,
                "owner": {**person, "region_code": "69", "locality": "Тверь"},
                "vehicle": {"category": "B", "make": "Lada", "model": "Granta", "power_hp": "90", "year": 2021,
                            "document_type": "СТС", "document_number": "6943218765", "plate": customer["plate"],
                            "vin": customer["vin"]},
                "drivers": [{"last_name": customer["last_name"], "first_name": customer["first_name"],
                             "birth_date": "1979-03-14", "licence": customer["licence"],
                             "licence_date": "1999-06-01", "kbm_class": "9"}],
            }  # fmt: skip
    return events, customer


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
