"""Request signatures: what the kiosk signs is what the server verifies, and any change breaks it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.signing import (
    SignatureError,
    SignedHeaders,
    new_key,
    read_key_file,
    sign,
    verify_signature,
    write_key_file,
)

SECRET = bytes(range(32))
NOW = 1_800_000_000.0


def _verify(headers: dict[str, str], method: str, path: str, body: bytes, now: float = NOW) -> None:
    verify_signature(SECRET, SignedHeaders.parse(headers), method, path, body, now=now, window=300)


def test_a_signed_request_verifies() -> None:
    headers = sign(SECRET, "KIOSK-0001", "POST", "/api/v1/events?x=1", b"{}", now=NOW)
    _verify(headers, "POST", "/api/v1/events?x=1", b"{}")


@given(
    method=st.sampled_from(["GET", "POST"]),
    path=st.text(min_size=1, max_size=40),
    body=st.binary(max_size=200),
    change=st.sampled_from(["method", "path", "body", "timestamp", "nonce", "kiosk"]),
)
def test_changing_any_signed_part_breaks_the_signature(method: str, path: str, body: bytes, change: str) -> None:
    headers = sign(SECRET, "KIOSK-0001", method, path, body, now=NOW)
    if change == "method":
        method = "PUT"
    elif change == "path":
        path += "x"
    elif change == "body":
        body += b" "
    elif change == "timestamp":
        headers["X-Osago-Timestamp"] = str(int(NOW) + 1)
    elif change == "nonce":
        headers["X-Osago-Nonce"] = "A" * 24
    else:
        headers["X-Osago-Kiosk"] = "KIOSK-0002"
    with pytest.raises(SignatureError, match="bad signature"):
        _verify(headers, method, path, body)


def test_a_timestamp_outside_the_window_is_stale() -> None:
    headers = sign(SECRET, "KIOSK-0001", "GET", "/", b"", now=NOW - 301)
    with pytest.raises(SignatureError, match="stale"):
        _verify(headers, "GET", "/", b"")


@pytest.mark.parametrize("missing", ["X-Osago-Kiosk", "X-Osago-Timestamp", "X-Osago-Nonce", "X-Osago-Signature"])
def test_a_missing_header_means_unsigned(missing: str) -> None:
    headers = sign(SECRET, "KIOSK-0001", "GET", "/", b"", now=NOW)
    del headers[missing]
    with pytest.raises(SignatureError, match="not signed"):
        SignedHeaders.parse(headers)


def test_key_files_are_written_owner_only_and_refused_when_readable_by_others(tmp_path: Path) -> None:
    key = new_key()
    path = write_key_file(tmp_path / "k" / "server.key", key)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert read_key_file(path).hex() == key
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="must be 600"):
        read_key_file(path)
    path.write_text("abc")
    os.chmod(path, 0o600)
    with pytest.raises(PermissionError, match="64 hex digits"):
        read_key_file(path)
