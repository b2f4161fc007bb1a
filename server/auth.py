"""Kiosk authentication (signed requests, nonce store) and operator passwords and sessions.

A kiosk request passes when its HMAC verifies with that kiosk's secret, its timestamp is inside the
window, and its nonce is new: the nonce is inserted under a primary key, so of two identical requests
racing in, exactly one gets through. Nonces are kept until their timestamp has left the window.
``server.guard`` calls the steps in order (window, secret, body, signature) so a stranger's body is
never read beyond its limit; an unknown or disabled kiosk is checked against a dummy secret, so it
costs and answers exactly what a bad signature does.

An operator log-in is throttled per name and per address (``server.throttle``), hashes the password
against a dummy hash of the same cost when the name is unknown (the answer and its timing do not tell
which names exist), and computes at most ``concurrent`` scrypt hashes at once (32 MiB each).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.signing import KEY_SIZE, SignatureError, SignedHeaders, verify_signature
from server.db import Database
from server.models import Kiosk, Nonce, OperatorAccount, OperatorSession
from server.throttle import Lockout, Throttle

__all__ = ["KioskAuthenticator", "LoginOutcome", "OperatorAuth", "PasswordHash", "SignatureError"]

log = logging.getLogger(__name__)


@dataclass
class KioskAuthenticator:
    """Verifies signed kiosk requests against the kiosks table and the nonce store."""

    database: Database
    window: float
    clock: Callable[[], float] = time.time
    _last_sweep: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    #: what an unknown kiosk's request is checked against (never matches: nobody knows it)
    _dummy: bytes = field(default_factory=lambda: secrets.token_bytes(KEY_SIZE), init=False, repr=False)

    def check_window(self, headers: SignedHeaders) -> None:
        """Refuse a timestamp outside the window before anything else is done (``SignatureError``)."""
        if abs(self.clock() - headers.timestamp) > self.window:
            raise SignatureError("stale timestamp")

    def secret_of(self, kiosk_id: str) -> bytes | None:
        """The secret of an enabled kiosk; None for an unknown or disabled one."""
        with self.database.session() as session:
            kiosk = session.get(Kiosk, kiosk_id)
            if kiosk is None or not kiosk.enabled:
                return None
            return bytes.fromhex(kiosk.secret)

    def verify(self, headers: SignedHeaders, secret: bytes | None, method: str, path: str, body_digest: str) -> str:
        """The kiosk id of a valid request (``body_digest``: hex SHA-256 of the body); ``SignatureError`` otherwise."""
        now = self.clock()
        # The same HMAC and comparison whether the kiosk exists or not.
        verify_signature(
            secret or self._dummy, headers, method, path, b"", now=now, window=self.window, body_digest=body_digest
        )
        if secret is None:
            raise SignatureError("unknown or disabled kiosk")
        expires = dt.datetime.fromtimestamp(headers.timestamp + self.window, dt.UTC)
        try:
            # One transaction: the nonce, "last seen", and the kiosk still enabled.
            with self.database.transaction() as session:
                session.add(Nonce(kiosk_id=headers.kiosk_id, nonce=headers.nonce, expires_at=expires))
                session.flush()
                seen = session.execute(
                    update(Kiosk)
                    .where(Kiosk.id == headers.kiosk_id, Kiosk.enabled.is_(True))
                    .values(last_seen_at=dt.datetime.fromtimestamp(now, dt.UTC))
                )
                if seen.rowcount != 1:  # type: ignore[attr-defined]
                    raise SignatureError("kiosk disabled meanwhile")
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


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """A log-in's result: a session token, or refused (``locked`` when the name or address is locked out)."""

    token: str | None = None
    locked: Lockout | None = None


@dataclass
class OperatorAuth:
    """Operator log-in against the config's operators and those added with ``osago-server operator add``."""

    database: Database
    configured: dict[str, str]
    session_hours: float
    throttle: Throttle | None = None
    concurrent: int = 4
    _hashing: threading.BoundedSemaphore = field(init=False, repr=False)
    _dummy: PasswordHash = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._hashing = threading.BoundedSemaphore(self.concurrent)
        # The cost an operator's own hash has (the defaults of ``PasswordHash.create``).
        self._dummy = PasswordHash.create(secrets.token_urlsafe(16))

    def _stored(self, name: str) -> PasswordHash | None:
        # Always the same look-ups, whichever of them holds the name.
        with self.database.session() as session:
            account = session.get(OperatorAccount, name)
            stored = account.password if account is not None else None
        stored = self.configured.get(name, stored)
        if stored is None:
            return None
        try:
            return PasswordHash.parse(stored)
        except ValueError:
            log.warning("operator %s has a malformed password hash: log-in refused", name)
            return None

    def login(self, name: str, password: str, address: str = "") -> LoginOutcome:
        """A new session token, or refused: wrong name or password (the same answer), or locked out."""
        if self.throttle is not None:
            locked = self.throttle.login_locked(name, address)
            if locked is not None:
                self.throttle.login_refused(address)
                return LoginOutcome(locked=locked)
        stored = self._stored(name)
        with self._hashing:
            # Hash even for an unknown name, at the same cost, so timing does not tell which names exist.
            matches = (stored or self._dummy).verify(password) and stored is not None
        if not matches:
            if self.throttle is not None:
                self.throttle.login_failed(name, address)
            return LoginOutcome()
        if self.throttle is not None:
            self.throttle.login_succeeded(name)
        token = secrets.token_urlsafe(32)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=self.session_hours)
        with self.database.transaction() as session:
            session.add(OperatorSession(token_hash=_token_hash(token), operator=name, expires_at=expires))
        return LoginOutcome(token=token)

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
