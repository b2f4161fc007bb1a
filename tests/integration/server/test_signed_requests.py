"""Signed kiosk requests against the real server: a wrong key, a stale timestamp, a replayed nonce,
a tampered body, an unknown or disabled kiosk — each refused with the same 401; a good signature
passes once. The reason is in the server's log, not in the answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from kiosk.signing import new_key, read_key_file, sign
from server.guard import REFUSED
from tests.integration.server.conftest import ProvisionedKiosk
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.integration


def _get(server: ServerProcess, headers: dict[str, str], path: str = "/api/v1/status") -> requests.Response:
    return requests.get(server.url + path, headers=headers, timeout=10)


def test_a_correctly_signed_request_is_answered(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    secret = read_key_file(kiosk.key_file)
    response = _get(server, sign(secret, kiosk.kiosk_id, "GET", "/api/v1/status", b""))
    assert response.status_code == 200, response.text
    assert response.json()["kiosk_id"] == kiosk.kiosk_id


def test_a_request_signed_with_another_key_is_refused(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    response = _get(server, sign(bytes.fromhex(new_key()), kiosk.kiosk_id, "GET", "/api/v1/status", b""))
    assert response.status_code == 401
    assert response.json() == {"detail": REFUSED}


def test_a_stale_timestamp_is_refused_even_with_the_right_key(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    secret = read_key_file(kiosk.key_file)
    for skew in (-400, +400):
        response = _get(server, sign(secret, kiosk.kiosk_id, "GET", "/api/v1/status", b"", now=time.time() + skew))
        assert response.status_code == 401
        assert response.json() == {"detail": REFUSED}


def test_a_replayed_nonce_is_refused(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    secret = read_key_file(kiosk.key_file)
    body = json.dumps({"events": []}).encode()
    headers = {**sign(secret, kiosk.kiosk_id, "POST", "/api/v1/events", body), "Content-Type": "application/json"}

    first = requests.post(server.url + "/api/v1/events", data=body, headers=headers, timeout=10)
    replay = requests.post(server.url + "/api/v1/events", data=body, headers=headers, timeout=10)

    assert first.status_code == 200, first.text
    assert replay.status_code == 401
    assert replay.json() == {"detail": REFUSED}


def test_a_replayed_nonce_is_refused_after_a_server_restart(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    secret = read_key_file(kiosk.key_file)
    headers = sign(secret, kiosk.kiosk_id, "GET", "/api/v1/status", b"")
    assert _get(server, headers).status_code == 200

    server.kill()
    server.start()

    assert _get(server, headers).status_code == 401


def test_a_tampered_body_path_or_query_is_refused(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    secret = read_key_file(kiosk.key_file)
    signed = sign(secret, kiosk.kiosk_id, "POST", "/api/v1/events", b'{"events": []}')
    tampered = requests.post(server.url + "/api/v1/events", data=b'{"events":[] }', timeout=10,
                             headers={**signed, "Content-Type": "application/json"})  # fmt: skip
    query = sign(secret, kiosk.kiosk_id, "GET", "/api/v1/policies/by-key?key=aaaaaaaa:register", b"")
    other_query = _get(server, query, "/api/v1/policies/by-key?key=bbbbbbbb:register")

    assert tampered.status_code == 401
    assert other_query.status_code == 401


def test_unsigned_unknown_and_disabled_kiosks_are_refused(
    server: ServerProcess, kiosk: ProvisionedKiosk, tmp_path: Path
) -> None:
    secret = read_key_file(kiosk.key_file)
    assert _get(server, {}).status_code == 401
    assert _get(server, sign(secret, "KIOSK-9999", "GET", "/api/v1/status", b"")).status_code == 401

    assert server.cli("kiosk", "disable", kiosk.kiosk_id).returncode == 0
    assert _get(server, sign(secret, kiosk.kiosk_id, "GET", "/api/v1/status", b"")).status_code == 401


def test_the_http_client_signs_every_retry_afresh(server: ServerProcess, kiosk: ProvisionedKiosk) -> None:
    # Many calls with the same Idempotency-Key: each is a new signed request, none looks like a replay.
    numbers = set()
    contract = {
        "sale_id": f"sale-{kiosk.kiosk_id}", "period_start": "2026-12-01T00:00:00+03:00", "period_end": "2027-12-01T00:00:00+03:00",
        "premium": "8432.17", "tariff_version": "7204-U", "coefficients": {"TB": "7000"},
        "vehicle": {"category": "B", "make": "Lada", "model": "Vesta", "plate": "А123ВС77"},
        "policyholder": {"last_name": "Иванов"}, "owner": {"last_name": "Иванов", "region_code": "77"},
    }  # fmt: skip
    for _ in range(5):
        response = kiosk.client.request(
            "POST", "/api/v1/policies", body=contract, idempotency_key=f"{kiosk.kiosk_id}:register"
        )
        numbers.add(kiosk.client.json(response)["number"])
    assert len(numbers) == 1
