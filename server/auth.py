"""Kiosk authentication (signed requests, nonce store) and operator passwords and sessions.

A kiosk request passes when its HMAC verifies with that kiosk's secret, its timestamp is inside the
window, and its nonce is new: the nonce is inserted under a primary key, so of two identical requests
racing in, exactly one gets through. Nonces are kept until their timestamp has left the window.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from kiosk.signing import SignatureError, SignedHeaders, verify_signature
from server.db import Database
from server.models import Kiosk, Nonce, OperatorAccount, OperatorSession

__all__ = ["KioskAuthenticator", "OperatorAuth", "PasswordHash", "SignatureError"]


@dataclass
class KioskAuthenticator:
    """Verifies signed kiosk requests against the kiosks table and the nonce store."""

    database: Database
    window: float
    _last_sweep: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def verify(self, headers: SignedHeaders, method: str, path: str, body: bytes) -> str:
        """The kiosk id of a valid request; ``SignatureError`` otherwise (and the nonce is spent)."""
        now = time.time()
        expires = dt.datetime.fromtimestamp(headers.timestamp + self.window, dt.UTC)
        try:
            # One transaction: the secret, the signature, the nonce and "last seen" together.
            with self.database.transaction() as session:
                kiosk = session.get(Kiosk, headers.kiosk_id)
                if kiosk is None or not kiosk.enabled:
                    raise SignatureError("unknown kiosk")
                verify_signature(bytes.fromhex(kiosk.secret), headers, method, path, body, now=now, window=self.window)
                session.add(Nonce(kiosk_id=headers.kiosk_id, nonce=headers.nonce, expires_at=expires))
                session.flush()
                kiosk.last_seen_at = dt.datetime.fromtimestamp(now, dt.UTC)
        except IntegrityError:
            raise SignatureError("replayed nonce") from None
        self._sweep(now)
        return headers.kiosk_id

    def _sweep(self, now: float) -> None:
        """Forget nonces whose requests would be stale anyway (at most once a minute per process)."""
        with self._lock:
            if now - self._last_sweep < 60:
                return
            self._last_sweep = now
        with self.database.transaction() as session:
            session.execute(delete(Nonce).where(Nonce.expires_at < dt.datetime.fromtimestamp(now, dt.UTC)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """An operator's password as ``scrypt$LOG2N$R$P$SALT$DIGEST`` (base64url), never the password."""

    log2_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes = field(repr=False)

    @classmethod
    def create(cls, password: str, *, log2_n: int = 15, r: int = 8, p: int = 1) -> PasswordHash:
        """Hash a password (at least 8 characters) with a fresh salt."""
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        salt = secrets.token_bytes(16)
        return cls(log2_n, r, p, salt, _scrypt(password, salt, log2_n, r, p))

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """Read the written form; ``ValueError`` when malformed."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError("a password hash reads scrypt$LOG2N$R$P$SALT$DIGEST (osago-server operator hash)")
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("scrypt parameters out of range")
        return cls(log2_n, r, p, _unb64(parts[4]), _unb64(parts[5]))

    def __str__(self) -> str:
        return f"scrypt${self.log2_n}${self.r}${self.p}${_b64(self.salt)}${_b64(self.digest)}"

    def verify(self, password: str) -> bool:
        """Whether ``password`` matches (constant-time comparison)."""
        return hmac.compare_digest(_scrypt(password, self.salt, self.log2_n, self.r, self.p), self.digest)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)


@dataclass
class OperatorAuth:
    """Operator log-in against the config's operators and those added with ``osago-server operator add``."""

    database: Database
    configured: dict[str, str]
    session_hours: float

    def login(self, name: str, password: str) -> str | None:
        """A new session token, or None when the name or password is wrong."""
        stored = self.configured.get(name)
        if stored is None:
            with self.database.session() as session:
                account = session.get(OperatorAccount, name)
                stored = account.password if account is not None else None
        # Hash even for an unknown name, so timing does not tell which names exist.
        candidate = PasswordHash.parse(stored) if stored else PasswordHash.create("x" * 8, log2_n=10)
        if not candidate.verify(password) or stored is None:
            return None
        token = secrets.token_urlsafe(32)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=self.session_hours)
        with self.database.transaction() as session:
            session.add(OperatorSession(token_hash=_token_hash(token), operator=name, expires_at=expires))
        return token

    def operator(self, token: str | None) -> str | None:
        """The operator a session token belongs to (None when absent or expired)."""
        if not token:
            return None
        with self.database.session() as session:
            row = session.get(OperatorSession, _token_hash(token))
        if row is None or row.expires_at < dt.datetime.now(dt.UTC):
            return None
        return row.operator

    def logout(self, token: str | None) -> None:
        """End a session."""
        if token:
            with self.database.transaction() as session:
                session.execute(delete(OperatorSession).where(OperatorSession.token_hash == _token_hash(token)))

    def add(self, name: str, password: str) -> None:
        """Add or replace an operator account in the database."""
        hashed = str(PasswordHash.create(password))
        with self.database.transaction() as session:
            account = session.scalars(select(OperatorAccount).where(OperatorAccount.name == name)).first()
            if account is None:
                session.add(OperatorAccount(name=name, password=hashed, created_at=dt.datetime.now(dt.UTC)))
            else:
                account.password = hashed


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
