"""Signed requests between a kiosk and the central server: HMAC-SHA256 with the kiosk's own secret.

Both sides import this module (it is pure: standard library only), so the kiosk signs exactly what the
server verifies. The signature covers::

    OSAGO-HMAC-SHA256
    <kiosk id>
    <METHOD>
    <path with query, as sent on the wire (percent-encoded)>
    <hex SHA-256 of the body>
    <timestamp, Unix seconds>
    <nonce>

and travels in four headers (``HEADERS``). The server refuses a timestamp outside its window and a
nonce it has seen from the same kiosk within the window, so a captured request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HEADERS",
    "KEY_SIZE",
    "SCHEME",
    "SignatureError",
    "SignedHeaders",
    "canonical_request",
    "new_key",
    "read_key_file",
    "sign",
    "signature",
    "verify_signature",
    "write_key_file",
]

SCHEME = "OSAGO-HMAC-SHA256"
#: secret size in bytes (the key file holds twice as many hex digits)
KEY_SIZE = 32
KIOSK_HEADER = "X-Osago-Kiosk"
TIMESTAMP_HEADER = "X-Osago-Timestamp"
NONCE_HEADER = "X-Osago-Nonce"
SIGNATURE_HEADER = "X-Osago-Signature"
HEADERS = (KIOSK_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

_KIOSK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class SignatureError(PermissionError):
    """A request is not signed, badly signed, stale or replayed; ``reason`` says which (for logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_key() -> str:
    """A fresh kiosk secret as the key file holds it: 64 hex digits."""
    return secrets.token_hex(KEY_SIZE)


def read_key_file(path: str | Path, *, size: int = KEY_SIZE, error: type[Exception] = PermissionError) -> bytes:
    """Read a hex key file; refuse one that group or others may read (raises ``error``)."""
    file = Path(path)
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{file}: cannot read the key file ({exc})") from None
    if stat.S_IMODE(mode) & 0o077:
        raise error(f"{file}: key file mode is {stat.S_IMODE(mode):o}; it must be 600 (owner only)")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise error(f"{file}: a key file holds {2 * size} hex digits") from None
    if len(key) != size:
        raise error(f"{file}: a key file holds {2 * size} hex digits, found {len(text)}")
    return key


def write_key_file(path: str | Path, key_hex: str) -> Path:
    """Write a key file with mode 0600 (never widening an existing file's mode)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key_hex + "\n")
        out.flush()
        os.fsync(out.fileno())
    file.chmod(0o600)
    return file


def canonical_request(
    kiosk_id: str, method: str, path: str, body: bytes, *, timestamp: int, nonce: str, body_digest: str | None = None
) -> bytes:
    """The exact bytes that are signed (``body_digest``: the body's hex SHA-256, when it was hashed as it arrived)."""
    digest = hashlib.sha256(body).hexdigest() if body_digest is None else body_digest
    return "\n".join((SCHEME, kiosk_id, method.upper(), path, digest, str(timestamp), nonce)).encode("utf-8")


def signature(
    secret: bytes,
    kiosk_id: str,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp: int,
    nonce: str,
    body_digest: str | None = None,
) -> str:
    """The hex HMAC-SHA256 of the canonical request."""
    message = canonical_request(kiosk_id, method, path, body, timestamp=timestamp, nonce=nonce, body_digest=body_digest)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(
    secret: bytes, kiosk_id: str, method: str, path: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The headers that sign one request (a fresh nonce every call)."""
    timestamp = int(time.time() if now is None else now)
    nonce = secrets.token_urlsafe(18)
    return {
        KIOSK_HEADER: kiosk_id,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, kiosk_id, method, path, body, timestamp=timestamp, nonce=nonce),
    }


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The signature headers of a request, checked for shape (not yet for validity)."""

    kiosk_id: str
    timestamp: int
    nonce: str
    signature: str

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> SignedHeaders:
        """Read the headers (case-insensitive mapping); ``SignatureError`` when one is missing or malformed."""
        values = [headers.get(name) for name in HEADERS]
        if any(value is None for value in values):
            raise SignatureError("request is not signed")
        kiosk_id, timestamp, nonce, sig = (str(v) for v in values)
        if not _KIOSK_ID.fullmatch(kiosk_id):
            raise SignatureError("malformed kiosk id")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise SignatureError("malformed timestamp")
        if not _NONCE.fullmatch(nonce):
            raise SignatureError("malformed nonce")
        if not re.fullmatch(r"[0-9a-f]{64}", sig):
            raise SignatureError("malformed signature")
        return cls(kiosk_id, int(timestamp), nonce, sig)


def verify_signature(
    secret: bytes,
    signed: SignedHeaders,
    method: str,
    path: str,
    body: bytes,
    *,
    now: float,
    window: float,
    body_digest: str | None = None,
) -> None:
    """Check the signature and the timestamp window (the caller checks the nonce against its store)."""
    expected = signature(
        secret,
        signed.kiosk_id,
        method,
        path,
        body,
        timestamp=signed.timestamp,
        nonce=signed.nonce,
        body_digest=body_digest,
    )
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError("bad signature")
    if abs(now - signed.timestamp) > window:
        raise SignatureError("stale timestamp")
