"""Strangers at the kiosk API, against the real ``osago-server serve`` on SQLite and PostgreSQL: huge
bodies cost nothing, every refused signature gets one answer, bad text is a 4xx, headers are there."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from kiosk.signing import new_key, read_key_file, sign
from server.guard import REFUSED
from tests.faults.server.conftest import dumps, new_kiosk, start_server
from tests.support.hostile import RssSampler, rss_kib, stream_post
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.integration

MB = 1 << 20


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    process = start_server(request, db_kind, tmp_path_factory.mktemp("strangers"))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def kiosk(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    kiosk_id, key_file = new_kiosk(server, tmp_path_factory.mktemp("keys"))
    return kiosk_id, read_key_file(key_file)


def _signed(secret: bytes, kiosk_id: str, body: bytes, path: str = "/api/v1/events", **kw: float) -> dict[str, str]:
    return {**sign(secret, kiosk_id, "POST", path, body, **kw), "Content-Type": "application/json"}


def _post(
    server: ServerProcess, headers: dict[str, str], body: bytes, path: str = "/api/v1/events"
) -> requests.Response:
    return requests.post(server.url + path, data=body, headers=headers, timeout=30)


def _attack(server: ServerProcess, attacks: list[tuple[str, str, dict[str, str], bool, int]], copies: int) -> int:
    """Run every attack ``copies`` times at once with 200 MB bodies; the server's RSS growth, KiB."""
    assert server.proc is not None
    pid = server.proc.pid
    # Warm up every path once (imports, pools, the threads of the pool) before the baseline.
    for _what, path, headers, chunked, _status in attacks:
        stream_post(server.port, path, total=2 * MB, headers=headers, chunked=chunked)
    time.sleep(0.5)
    baseline = rss_kib(pid)
    with RssSampler(pid) as sampler, ThreadPoolExecutor(max_workers=copies * len(attacks)) as pool:
        futures = [
            (
                what,
                expected,
                pool.submit(stream_post, server.port, path, total=200 * MB, headers=headers, chunked=chunked),
            )
            for what, path, headers, chunked, expected in attacks
            for _copy in range(copies)
        ]
        results = [(what, expected, future.result(timeout=120)) for what, expected, future in futures]
    grown = sampler.peak - baseline
    print(f"server RSS: baseline {baseline / 1024:.1f} MiB, peak {sampler.peak / 1024:.1f} MiB during "
          f"{len(results)} concurrent 200 MB posts ({', '.join(a[0] for a in attacks)}): +{grown / 1024:.2f} MiB")  # fmt: skip
    for what, expected, result in results:
        assert result.status == expected, (what, result.status, result.head[:200])
        # The server stopped reading long before 200 MB (what the socket buffers took is all it got).
        assert result.sent < 64 * MB, (what, result.sent)
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    return grown


def test_200_mb_posts_from_strangers_do_not_grow_the_server(server: ServerProcess) -> None:
    stranger = sign(bytes.fromhex(new_key()), "KIOSK-9999", "POST", "/api/v1/events", b"")
    attacks = [
        # (what, path, headers, chunked, the answer expected)
        ("unsigned chunked", "/api/v1/events", {}, True, 401),
        ("unsigned with Content-Length", "/api/v1/events", {}, False, 401),
        ("unknown kiosk chunked", "/api/v1/events", stranger, True, 413),
        ("unknown kiosk with Content-Length", "/api/v1/events", stranger, False, 413),
        ("login form chunked", "/login", {}, True, 413),
        ("public check with Content-Length", "/check", {}, False, 413),
    ]
    grown = _attack(server, attacks, copies=4)
    assert grown < 3 * 1024, f"RSS grew by {grown} KiB"


def test_200_mb_posts_under_a_real_kiosk_id_hold_no_more_than_the_limit_each(
    server: ServerProcess, kiosk: tuple[str, bytes]
) -> None:
    # Someone who knows a kiosk's id but not its key: its body is kept (up to the 1 MB limit) until
    # the HMAC fails, so memory is bounded by concurrent requests × the limit, never by what is sent.
    kiosk_id, _secret = kiosk
    wrong_key = sign(bytes.fromhex(new_key()), kiosk_id, "POST", "/api/v1/events", b"")
    attacks = [("known kiosk, wrong key, chunked", "/api/v1/events", wrong_key, True, 413)]
    grown = _attack(server, attacks, copies=4)
    assert grown < 4 * 1024 + 3 * 1024, f"RSS grew by {grown} KiB"


def test_a_batch_over_the_limit_is_refused_and_one_under_it_is_not(
    server: ServerProcess, kiosk: tuple[str, bytes]
) -> None:
    kiosk_id, secret = kiosk
    padding = {"events": [], "padding": "x" * (1 * MB + 10)}
    big = dumps(padding)
    small = dumps({"events": []})

    refused = _post(server, _signed(secret, kiosk_id, big), big)
    accepted = _post(server, _signed(secret, kiosk_id, small), small)

    assert refused.status_code == 413 and "тело запроса больше" in refused.json()["detail"]
    assert accepted.status_code == 200, accepted.text


def test_every_refused_signature_gets_the_same_answer(server: ServerProcess, kiosk: tuple[str, bytes]) -> None:
    kiosk_id, secret = kiosk
    body = dumps({"events": []})
    replayed = _signed(secret, kiosk_id, body)
    assert _post(server, replayed, body).status_code == 200
    disabled_id, disabled_key = new_kiosk(server, Path(server.data_dir))
    assert server.cli("kiosk", "disable", disabled_id).returncode == 0
    cases = {
        "unsigned": {"Content-Type": "application/json"},
        "malformed signature": {**_signed(secret, kiosk_id, body), "X-Osago-Signature": "zz"},
        "malformed nonce": {**_signed(secret, kiosk_id, body), "X-Osago-Nonce": "short"},
        "stale": _signed(secret, kiosk_id, body, now=time.time() - 3600),
        "from the future": _signed(secret, kiosk_id, body, now=time.time() + 3600),
        "unknown kiosk": _signed(secret, "KIOSK-9999", body),
        "disabled kiosk": _signed(read_key_file(disabled_key), disabled_id, body),
        "wrong key": _signed(bytes.fromhex(new_key()), kiosk_id, body),
        "replayed": replayed,
        "tampered body": _signed(secret, kiosk_id, b'{"events": [ ]}'),
    }
    answers = {what: _post(server, headers, body) for what, headers in cases.items()}

    for what, answer in answers.items():
        assert answer.status_code == 401, what
        assert answer.content == answers["wrong key"].content, what
        assert answer.json() == {"detail": REFUSED}, what
        assert "www-authenticate" not in answer.headers, what


def test_an_unknown_kiosk_takes_as_long_as_a_bad_signature(server: ServerProcess, kiosk: tuple[str, bytes]) -> None:
    kiosk_id, _secret = kiosk
    body = dumps({"events": [], "padding": "y" * 200_000})
    wrong = bytes.fromhex(new_key())
    timings: dict[str, list[float]] = {"unknown": [], "bad signature": []}
    session = requests.Session()
    for _ in range(25):
        # Interleaved, so a load spike on the machine hits both alike.
        for what, who in (("unknown", "KIOSK-9999"), ("bad signature", kiosk_id)):
            headers = _signed(wrong, who, body)
            start = time.perf_counter()
            answer = session.post(server.url + "/api/v1/events", data=body, headers=headers, timeout=30)
            timings[what].append(time.perf_counter() - start)
            assert answer.status_code == 401
    session.close()
    unknown, bad = (statistics.median(timings[k]) for k in ("unknown", "bad signature"))
    print(f"refusal median: unknown kiosk {unknown * 1000:.2f} ms, bad signature {bad * 1000:.2f} ms")
    # The same path and the same work: a real difference would be the body read or not (several times).
    assert max(unknown, bad) < 2 * min(unknown, bad) + 0.002, (unknown, bad)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"events": [{"event_id": "E-1", "kind": "sale.abandoned", "kiosk_id": "%s", "sale_id": "S-1", '
        b'"created_at": "2026-11-21T10:00:00+03:00", "payload": {"reason": "\\ud800"}}]}',
        b'{"events": [{"event_id": "E-2", "kind": "policy.registered", "kiosk_id": "%s", "sale_id": "S-2", '
        b'"created_at": "2026-11-21T10:00:00+03:00", "payload": {}, "personal": {"owner": {"\\udfff": 1}}}]}',
        b'{"events": [{"event_id": "E-3", "kind": "sale.abandoned", "kiosk_id": "%s", "sale_id": "S-3", '
        b'"created_at": "2026-11-21T10:00:00+03:00", "payload": {"reason": "\xed\xa0\x80 \xff\xfe"}}]}',
        b'{"events": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b"\xff\xfe{}",
    ],
    ids=["lone high surrogate", "lone low surrogate in a key", "bad utf-8", "deep nesting", "not utf-8 at all"],
)
def test_text_that_is_not_unicode_is_a_client_error(
    server: ServerProcess, kiosk: tuple[str, bytes], raw: bytes
) -> None:
    kiosk_id, secret = kiosk
    body = raw.replace(b"%s", kiosk_id.encode()) if b"%s" in raw else raw
    answer = _post(server, _signed(secret, kiosk_id, body), body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")


def test_bad_text_in_pages_and_forms_is_never_a_server_error(server: ServerProcess) -> None:
    session = requests.Session()
    answers = [
        session.get(f"{server.url}/check?number=%ED%A0%80%FF", timeout=10),
        session.get(f"{server.url}/login?next=%ED%A0%80", timeout=10),
        session.post(
            f"{server.url}/login",
            data=b"username=%ED%A0%80&password=%FF&csrf_token=%00",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        ),
        session.get(f"{server.url}/dashboard/%ED%A0%80.csv", timeout=10, allow_redirects=False),
    ]
    for answer in answers:
        assert answer.status_code < 500, (answer.url, answer.status_code, answer.text[:200])


def test_every_answer_carries_the_browser_policy(server: ServerProcess, kiosk: tuple[str, bytes]) -> None:
    kiosk_id, secret = kiosk
    answers = {
        "check": requests.get(f"{server.url}/check", timeout=10),
        "login": requests.get(f"{server.url}/login", timeout=10),
        "dashboard redirect": requests.get(f"{server.url}/dashboard", timeout=10, allow_redirects=False),
        "stylesheet": requests.get(f"{server.url}/static/dashboard.css", timeout=10),
        "api refusal": requests.get(f"{server.url}/api/v1/status", timeout=10),
        "api answer": requests.get(
            f"{server.url}/api/v1/status", timeout=10, headers=sign(secret, kiosk_id, "GET", "/api/v1/status", b"")
        ),
        "not found": requests.get(f"{server.url}/nowhere", timeout=10),
    }
    for what, answer in answers.items():
        headers = answer.headers
        csp = headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, what
        assert "unsafe-inline" not in csp and "script-src" not in csp, what
        assert headers.get("x-frame-options") == "DENY", what
        assert headers.get("referrer-policy") == "no-referrer", what
        assert headers.get("x-content-type-options") == "nosniff", what
        assert "server" not in headers, what
    too_large = stream_post(server.port, "/login", total=100_000, chunked=False)
    assert too_large.status == 413
    for name in (b"content-security-policy", b"x-frame-options: DENY", b"referrer-policy", b"x-content-type-options"):
        assert name in too_large.head.lower() or name in too_large.head, name
    assert answers["login"].headers["cache-control"] == "no-store"
    assert answers["stylesheet"].headers["content-type"].startswith("text/css")
    for what in ("check", "login"):
        page = answers[what].text
        # Nothing inline for the policy to allow: no <style>, no style="", no <script>.
        assert "<style" not in page and "style=" not in page and "<script" not in page, what
        assert '<link rel="stylesheet" href="/static/dashboard.css">' in page
