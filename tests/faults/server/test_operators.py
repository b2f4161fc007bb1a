"""Attacks on the operator side of the real server (two worker processes behind a trusted proxy, on SQLite
and PostgreSQL): password guessing, cross-site forms, cookies over HTTPS, check enumeration, formulas
smuggled into CSV exports."""

from __future__ import annotations

import csv
import io
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server.app import create_app
from server.config import load_server_settings
from tests.faults.server.conftest import (
    PASSWORD,
    add_operator,
    customer_events,
    log_in,
    login_form,
    new_kiosk,
    push,
    start_server,
)
from tests.support.server_process import REPO, ServerProcess

pytestmark = pytest.mark.integration

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    process = start_server(
        request,
        db_kind,
        tmp_path_factory.mktemp("operators"),
        workers=2,
        OSAGO_SERVER_HTTP__TRUSTED_PROXIES='["127.0.0.1"]',
        OSAGO_SERVER_LIMITS__CHECK_PER_ADDRESS="5/minute",
    )
    try:
        for name in ("operator", "second", "timing"):
            add_operator(process, name)
        yield process
    finally:
        process.stop()


def _address() -> str:
    """A client address of its own for each test (the proxy vouches for it)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def test_fifty_wrong_passwords_lock_the_account_and_the_address(server: ServerProcess) -> None:
    attacker, elsewhere = _address(), _address()
    answers = [log_in(server, "operator", f"guess-{n:04d}", address=attacker)[1] for n in range(50)]

    statuses = [a.status_code for a in answers]
    # Ten failures per name (across both worker processes: the counters are in the database), then locked.
    assert statuses[:10] == [401] * 10, statuses
    assert set(statuses[10:]) == {429}, statuses
    locked = answers[-1]
    assert "Вход временно заблокирован" in locked.text and int(locked.headers["Retry-After"]) > 0
    # The account is locked from anywhere, even with the right password …
    assert log_in(server, "operator", PASSWORD, address=elsewhere)[1].status_code == 429
    # … and the address is locked for every account.
    assert log_in(server, "second", PASSWORD, address=attacker)[1].status_code == 429
    assert log_in(server, "second", PASSWORD, address=elsewhere)[1].status_code == 303


def test_an_unknown_name_and_a_wrong_password_look_the_same(server: ServerProcess) -> None:
    timings: dict[str, list[float]] = {"unknown name": [], "wrong password": []}
    bodies: dict[str, set[str]] = {"unknown name": set(), "wrong password": set()}
    session = requests.Session()
    address = _address()
    headers = {"X-Forwarded-For": address}
    token = login_form(session, server, **headers)
    for n in range(6):
        for what, name in (("unknown name", f"nobody-{n}"), ("wrong password", "timing")):
            start = time.perf_counter()
            answer = session.post(f"{server.url}/login", headers=headers, allow_redirects=False, timeout=30,
                                  data={"username": name, "password": "not-the-password", "csrf_token": token})  # fmt: skip
            timings[what].append(time.perf_counter() - start)
            assert answer.status_code == 401
            bodies[what].add(answer.text)
    unknown, wrong = (statistics.median(timings[k]) for k in ("unknown name", "wrong password"))
    print(f"log-in refusal median: unknown name {unknown * 1000:.0f} ms, wrong password {wrong * 1000:.0f} ms")
    assert bodies["unknown name"] == bodies["wrong password"] and len(bodies["wrong password"]) == 1
    # Both hash a password at the same cost; before, an unknown name answered 5 times faster.
    assert max(unknown, wrong) < 1.6 * min(unknown, wrong), (unknown, wrong)


def _flat(routes: list[Any]) -> Iterator[Any]:
    """Every route, included routers opened up."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route


def test_every_form_post_without_its_token_is_refused(server: ServerProcess, tmp_path: Path) -> None:
    settings = load_server_settings(REPO / "config" / "server.toml", data={"dir": str(tmp_path)})
    app = create_app(settings)
    posts = {
        route.path
        for route in _flat(app.routes)
        if "POST" in (getattr(route, "methods", None) or ()) and "/api/" not in route.path
    }
    app.state.database.close()
    assert posts == {"/login", "/logout", "/dashboard/applications/{number}/status"}

    operator, landed = log_in(server, "second", address=_address())
    assert landed.status_code == 303
    page = operator.get(f"{server.url}/dashboard/applications", timeout=10).text
    token = page[page.index('name="csrf_token" value="') + 25 :].split('"', 1)[0]
    other, _ = log_in(server, "second", address=_address())
    other_page = other.get(f"{server.url}/dashboard", timeout=10).text
    other_token = other_page[other_page.index('name="csrf_token" value="') + 25 :].split('"', 1)[0]
    assert token and other_token and token != other_token
    targets = {
        "/login": {"username": "second", "password": PASSWORD},
        "/logout": {},
        "/dashboard/applications/A-000000-000001/status": {"status": "исполнена"},
    }
    for path, form in targets.items():
        for label, sent in (("no token", None), ("wrong token", "0" * 64), ("another session's token", other_token)):
            data = dict(form) if sent is None else {**form, "csrf_token": sent}
            answer = operator.post(f"{server.url}{path}", data=data, allow_redirects=False, timeout=10)
            assert answer.status_code == 403, (path, label, answer.status_code)
            assert "Форма устарела" in answer.text
    # A form posted from another site carries no cookie of ours at all.
    stranger = requests.post(f"{server.url}/login", data={"username": "second", "password": PASSWORD, "csrf_token": token},
                             allow_redirects=False, timeout=10)  # fmt: skip
    assert stranger.status_code == 403
    # With its token, the same session's form works.
    assert operator.post(f"{server.url}/logout", data={"csrf_token": token}, allow_redirects=False,
                         timeout=10).status_code == 303  # fmt: skip


def test_cookies_are_secure_when_the_trusted_proxy_says_https(server: ServerProcess) -> None:
    plain = requests.get(f"{server.url}/login", timeout=10)
    https = requests.get(f"{server.url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    operator, landed = log_in(server, "second", address=_address())

    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "strict-transport-security" not in plain.headers
    cookie = https.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert https.headers["strict-transport-security"].startswith("max-age=")
    assert landed.status_code == 303 and "httponly" in landed.headers["set-cookie"].lower()
    operator.close()


def test_the_public_check_is_rate_limited_per_address(server: ServerProcess) -> None:
    enumerator, neighbour = _address(), _address()
    answers = [
        requests.get(f"{server.url}/check", params={"number": f"ХХХ{200000001 + n:010d}"},
                     headers={"X-Forwarded-For": enumerator}, timeout=10)
        for n in range(8)
    ]  # fmt: skip
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}, statuses
    assert "Слишком много запросов" in answers[-1].text and int(answers[-1].headers["Retry-After"]) > 0
    assert requests.get(f"{server.url}/check", params={"number": "ХХХ0200000001"},
                        headers={"X-Forwarded-For": neighbour}, timeout=10).status_code == 200  # fmt: skip
    # The bare form is not a check: it never counts.
    assert requests.get(f"{server.url}/check", headers={"X-Forwarded-For": enumerator}, timeout=10).status_code == 200


def test_formulas_from_a_kiosk_never_reach_a_spreadsheet_as_formulas(server: ServerProcess, tmp_path: Path) -> None:
    kiosk_id, key_file = new_kiosk(server, tmp_path)
    events, _customer = customer_events(kiosk_id, index=1)
    for event in events:
        if event["kind"] == "policy.registered":
            holder = event["personal"]["policyholder"]
            holder["last_name"] = '=HYPERLINK("http://evil.example/x","Нажмите")'
            holder["first_name"] = "@SUM(1+1)"
            holder["phone"] = "-2+3"
            event["personal"]["vehicle"]["make"] = "\t=cmd|' /C calc'!A0"
    push(server, kiosk_id, key_file, events)
    application = {
        "event_id": f"{kiosk_id}-app-1", "kind": "application.submitted", "kiosk_id": kiosk_id, "sale_id": "S-APP-1",
        "created_at": events[0]["created_at"],
        "payload": {"number": f"A-{kiosk_id}-1", "office": "+SUM(A1:A9)", "visit_by": "2026-12-01", "premium": "100.00"},
    }  # fmt: skip
    push(server, kiosk_id, key_file, [application])
    operator, _ = log_in(server, "second", address=_address())

    cells = {}
    for name in ("renewals", "applications", "sales", "mismatches", "reconciliation", "health", "kpi", "lapsed"):
        answer = operator.get(f"{server.url}/dashboard/{name}.csv", timeout=10)
        assert answer.status_code == 200, name
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
        cells[name] = [cell for row in rows for cell in row]
    for name, values in cells.items():
        dangerous = [c for c in values if c.startswith(FORMULA_START) and not c.lstrip("-").replace(".", "").isdigit()]
        assert not dangerous, (name, dangerous)
    assert any(c.startswith("'=HYPERLINK(") for c in cells["renewals"]), cells["renewals"]
    assert "'-2+3" in cells["renewals"]
    assert any(c.startswith("'=cmd") for c in cells["renewals"])  # the tab went with the trimming
    assert "'+SUM(A1:A9)" in cells["applications"]
