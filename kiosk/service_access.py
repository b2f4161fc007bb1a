"""Technician access with a service card: challenge–response, PIN, lockout, idle end, audit.

Pure rules, standard library only (``hmac``, ``hashlib``, ``secrets``); the reader, the attempt store
and the clock are given to ``ServiceAccess``.

**Keys.** The kiosk holds one 32-byte master key (a file, mode 0600). Each card's key is derived from
it and the card id: ``card_key = HMAC-SHA256(master, b"OSAGO-SVC-CARD-KEY-1" || len(id) || id)``. A
card is personalised with its own key only, so a card's key reveals neither the master key nor any
other card's key, and the kiosk config needs no per-card secret. A card is revoked by removing its id
from the config (or ``enabled = false``); a leaked master key means re-keying every card.

**Opening.** A card arrives → ``begin`` draws a fresh random challenge → the card answers with
``HMAC-SHA256(card_key, b"OSAGO-SVC-AUTH-1" || len(id) || id || challenge)`` (see
``drivers.cardreader.applet``) → ``present`` checks it against the derived key and the config →
``enter_pin`` checks the PIN against a salted scrypt hash from the config. A readable card id alone
opens nothing. ``max_attempts`` wrong PINs in a row lock the card for ``lockout``; the count and the
lock survive a restart (``AttemptStore``). Card removal, ``logout`` or ``idle`` time closes the
session. Every refusal, PIN failure, lockout, opening and closing is reported to ``audit`` — never a PIN.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

from drivers.cardreader import CardAnswer, card_mac, validate_card_id
from kiosk.signing import read_key_file

__all__ = [
    "CHALLENGE_SIZE",
    "MASTER_KEY_SIZE",
    "AccessPolicy",
    "AccessState",
    "AttemptStore",
    "AttemptStoreError",
    "AuditEvent",
    "AuditKind",
    "CardAttempts",
    "Clock",
    "CloseReason",
    "KeyFileError",
    "MemoryAttemptStore",
    "Phase",
    "PinHash",
    "PinResult",
    "ServiceAccess",
    "SystemClock",
    "derive_card_key",
    "load_master_key",
    "new_master_key",
    "validate_pin",
]

MASTER_KEY_SIZE: Final = 32
CHALLENGE_SIZE: Final = 16
KEY_LABEL: Final = b"OSAGO-SVC-CARD-KEY-1"
PIN_PATTERN: Final = re.compile(r"[0-9]{4,12}")


class KeyFileError(ValueError):
    """The master key file is missing, malformed or readable by others."""


class AttemptStoreError(OSError):
    """The PIN attempt store cannot be read or written; access is refused until it can."""


# --- clock -------------------------------------------------------------------------------------------
class Clock(Protocol):
    """Wall time (aware, UTC) for lockouts that must survive a restart; monotonic time for idleness."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clocks."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


# --- keys ----------------------------------------------------------------------------------------------
def derive_card_key(master_key: bytes, card_id: str) -> bytes:
    """The 32-byte key of card ``card_id`` (see the module docstring)."""
    if len(master_key) != MASTER_KEY_SIZE:
        raise KeyFileError(f"the service card master key is {MASTER_KEY_SIZE} bytes")
    ident = validate_card_id(card_id).encode("ascii")
    return hmac.new(master_key, KEY_LABEL + bytes([len(ident)]) + ident, hashlib.sha256).digest()


def new_master_key() -> str:
    """A fresh master key as the key file holds it: 64 hex digits."""
    return secrets.token_hex(MASTER_KEY_SIZE)


def load_master_key(path: Path) -> bytes:
    """Read a key file (64 hex digits); refuse one that group or others may read."""
    return read_key_file(path, size=MASTER_KEY_SIZE, error=KeyFileError)


# --- PINs ----------------------------------------------------------------------------------------------
def validate_pin(pin: str) -> str:
    """The PIN itself, or ``ValueError``: 4 to 12 digits."""
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    return pin


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class PinHash:
    """A salted scrypt hash of a PIN, written ``scrypt$LOG2N$R$P$SALT$DIGEST`` (base64url, no padding)."""

    log2_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not (10 <= self.log2_n <= 20 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise ValueError("scrypt parameters out of range (log2 N 10-20, r 1-32, p 1-16)")
        if len(self.salt) < 16 or len(self.digest) != 32:
            raise ValueError("a PIN hash has a salt of at least 16 bytes and a 32-byte digest")

    @classmethod
    def create(cls, pin: str, *, log2_n: int = 14, r: int = 8, p: int = 1) -> PinHash:
        """Hash a PIN with a fresh random salt."""
        salt = secrets.token_bytes(16)
        return cls(log2_n, r, p, salt, cls._scrypt(validate_pin(pin), salt, log2_n, r, p))

    @classmethod
    def parse(cls, text: str) -> PinHash:
        """Read the written form; ``ValueError`` when malformed."""
        parts = text.split("$") if isinstance(text, str) else []
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError(
                "a PIN hash reads scrypt$LOG2N$R$P$SALT$DIGEST (make one with `osago-kiosk service-card pin-hash`)"
            )
        try:
            return cls(int(parts[1]), int(parts[2]), int(parts[3]), _unb64(parts[4]), _unb64(parts[5]))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"malformed PIN hash: {exc}") from None

    def __str__(self) -> str:
        return f"scrypt${self.log2_n}${self.r}${self.p}${_b64(self.salt)}${_b64(self.digest)}"

    def verify(self, pin: str) -> bool:
        """Whether ``pin`` is the PIN (constant-time comparison; a malformed PIN is simply wrong)."""
        if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
            return False
        candidate = self._scrypt(pin, self.salt, self.log2_n, self.r, self.p)
        return hmac.compare_digest(candidate, self.digest)

    @staticmethod
    def _scrypt(pin: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
        n = 1 << log2_n
        return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)


# --- policy, attempts ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """How many wrong PINs lock a card, for how long, and how long an idle session stays open."""

    max_attempts: int = 5
    lockout: timedelta = timedelta(minutes=30)
    idle: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise ValueError("max_attempts is 1 to 20")
        if self.lockout <= timedelta(0) or self.idle <= timedelta(0):
            raise ValueError("lockout and idle are positive durations")


@dataclass(frozen=True, slots=True)
class CardAttempts:
    """A card's wrong PINs in a row, and the end of its lockout (UTC) if locked."""

    failures: int = 0
    locked_until: datetime | None = None


class AttemptStore(Protocol):
    """Where wrong-PIN counts and lockouts live, so that a restart does not reset them."""

    def load(self, card_id: str) -> CardAttempts:
        """The card's record (a fresh one if none); ``AttemptStoreError`` when unreadable."""
        ...

    def save(self, card_id: str, attempts: CardAttempts) -> None:
        """Persist the card's record durably before returning."""
        ...


class MemoryAttemptStore:
    """An ``AttemptStore`` in a dict (tests)."""

    def __init__(self) -> None:
        self.records: dict[str, CardAttempts] = {}

    def load(self, card_id: str) -> CardAttempts:
        """The card's record."""
        return self.records.get(card_id, CardAttempts())

    def save(self, card_id: str, attempts: CardAttempts) -> None:
        """Keep the card's record."""
        self.records[card_id] = attempts


# --- states and audit -------------------------------------------------------------------------------
class Phase(enum.StrEnum):
    """Where the technician is."""

    NO_CARD = "no_card"
    #: a card is in; its answer to the challenge is awaited
    CHECKING = "checking"
    AWAITING_PIN = "awaiting_pin"
    OPEN = "open"
    #: a card is in but gives no access (refused, locked, or its session ended): remove it to retry
    REJECTED = "rejected"


class CloseReason(enum.StrEnum):
    """Why a session (or a PIN prompt) ended."""

    REMOVED = "removed"
    IDLE = "idle"
    LOGOUT = "logout"
    LOCKED = "locked"
    SHUTDOWN = "shutdown"


class AuditKind(enum.StrEnum):
    """What the journal records."""

    CARD_REFUSED = "card_refused"
    CARD_LOCKED = "card_locked"
    PIN_REJECTED = "pin_rejected"
    LOCKOUT_STARTED = "lockout_started"
    PIN_ABANDONED = "pin_abandoned"
    SESSION_OPENED = "session_opened"
    SESSION_CLOSED = "session_closed"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One journal record. ``verified`` says whether ``card_id`` was proven by the card's MAC."""

    kind: AuditKind
    at: datetime
    card_id: str | None
    verified: bool
    reason: str | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the journal."""
        return {
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "card_id": self.card_id,
            "verified": self.verified,
            "reason": self.reason,
            "attempts_left": self.attempts_left,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
        }


@dataclass(frozen=True, slots=True)
class AccessState:
    """What the UI shows. ``reason`` explains REJECTED (``bad_response``, ``unknown_card``, ``locked``…)."""

    phase: Phase = Phase.NO_CARD
    card_id: str | None = None
    reader: str | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        """Diagnostics may be shown."""
        return self.phase is Phase.OPEN


class PinResult(enum.StrEnum):
    """The outcome of ``enter_pin``."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LOCKED = "locked"
    #: no PIN was asked for (no verified card, or a session is already open)
    NOT_EXPECTED = "not_expected"


# --- the state machine ------------------------------------------------------------------------------
class ServiceAccess:
    """Technician access for one kiosk (thread-safe: card events and PIN entry come from different threads)."""

    def __init__(
        self,
        *,
        master_key: bytes,
        cards: Mapping[str, PinHash],
        store: AttemptStore,
        policy: AccessPolicy | None = None,
        clock: Clock | None = None,
        audit: Callable[[AuditEvent], None] | None = None,
    ) -> None:
        if len(master_key) != MASTER_KEY_SIZE:
            raise KeyFileError(f"the service card master key is {MASTER_KEY_SIZE} bytes")
        for card_id in cards:
            validate_card_id(card_id)
        self._master_key = bytes(master_key)
        self._cards = dict(cards)
        self._store = store
        self.policy = policy or AccessPolicy()
        self._clock: Clock = clock or SystemClock()
        self._audit = audit or (lambda event: None)
        self._lock = threading.RLock()
        self._state = AccessState()
        self._challenge: bytes | None = None
        self._last_activity = 0.0

    @property
    def state(self) -> AccessState:
        """The current state."""
        with self._lock:
            return self._state

    # --- card events ------------------------------------------------------------------------------
    def begin(self, reader: str) -> bytes:
        """A card arrived in ``reader``: the challenge to send it. Any earlier session ends first."""
        with self._lock:
            self._end(CloseReason.REMOVED)
            self._challenge = secrets.token_bytes(CHALLENGE_SIZE)
            self._state = AccessState(Phase.CHECKING, reader=reader)
            return self._challenge

    def present(self, answer: CardAnswer) -> AccessState:
        """Check the card's answer to the challenge of ``begin``; on success a PIN is asked."""
        with self._lock:
            challenge, self._challenge = self._challenge, None
            state = self._state
            if state.phase is not Phase.CHECKING or challenge is None:
                return state
            if answer.reader != state.reader or not hmac.compare_digest(answer.challenge, challenge):
                return self._refuse(answer.card_id, "stale_challenge")
            try:
                key = derive_card_key(self._master_key, answer.card_id)
                expected = card_mac(key, answer.card_id, challenge)
            except ValueError:
                return self._refuse(None, "bad_response")
            if not hmac.compare_digest(expected, answer.response):
                return self._refuse(answer.card_id, "bad_response")
            card_id = answer.card_id
            if card_id not in self._cards:
                return self._refuse(card_id, "unknown_card", verified=True)
            try:
                attempts = self._attempts(card_id)
            except AttemptStoreError:
                return self._refuse(card_id, "store_error", verified=True)
            if attempts.locked_until is not None:
                self._record(AuditKind.CARD_LOCKED, card_id, locked_until=attempts.locked_until)
                return self._set(AccessState(Phase.REJECTED, card_id, state.reader, 0, attempts.locked_until, "locked"))
            self._last_activity = self._clock.monotonic()
            left = self.policy.max_attempts - attempts.failures
            return self._set(AccessState(Phase.AWAITING_PIN, card_id, state.reader, left))

    def unreadable(self, reason: str) -> AccessState:
        """The card could not be asked (not our applet, I/O error): refuse it."""
        with self._lock:
            self._challenge = None
            if self._state.phase is not Phase.CHECKING:
                return self._state
            return self._refuse(None, f"unreadable: {reason}"[:200])

    def card_removed(self, reader: str | None = None) -> AccessState:
        """The card left ``reader`` (None: whichever): the session or the PIN prompt ends."""
        with self._lock:
            if reader is not None and self._state.reader not in (None, reader):
                return self._state
            self._challenge = None
            self._end(CloseReason.REMOVED)
            return self._set(AccessState())

    # --- the technician ---------------------------------------------------------------------------
    def enter_pin(self, pin: str) -> PinResult:
        """Check a PIN for the verified card; wrong ones count towards the lockout."""
        with self._lock:
            state = self._state
            if state.phase is not Phase.AWAITING_PIN or state.card_id is None:
                return PinResult.NOT_EXPECTED
            card_id = state.card_id
            self._last_activity = self._clock.monotonic()
            try:
                attempts = self._attempts(card_id)
                if attempts.locked_until is not None:
                    self._set(
                        replace(
                            state,
                            phase=Phase.REJECTED,
                            attempts_left=0,
                            locked_until=attempts.locked_until,
                            reason="locked",
                        )
                    )
                    return PinResult.LOCKED
                if self._cards[card_id].verify(pin):
                    self._store.save(card_id, CardAttempts())
                    self._record(AuditKind.SESSION_OPENED, card_id)
                    self._set(replace(state, phase=Phase.OPEN, attempts_left=None))
                    return PinResult.ACCEPTED
                failures = attempts.failures + 1
                left = max(0, self.policy.max_attempts - failures)
                locked_until = self._clock.now() + self.policy.lockout if left == 0 else None
                self._store.save(card_id, CardAttempts(failures, locked_until))
            except AttemptStoreError:
                self._refuse(card_id, "store_error", verified=True)
                return PinResult.REJECTED
            self._record(AuditKind.PIN_REJECTED, card_id, attempts_left=left)
            if locked_until is not None:
                self._record(AuditKind.LOCKOUT_STARTED, card_id, locked_until=locked_until)
                self._set(
                    replace(state, phase=Phase.REJECTED, attempts_left=0, locked_until=locked_until, reason="locked")
                )
                return PinResult.LOCKED
            self._set(replace(state, attempts_left=left))
            return PinResult.REJECTED

    def touch(self) -> None:
        """The technician did something: the idle timer starts again."""
        with self._lock:
            self._last_activity = self._clock.monotonic()

    def check_idle(self) -> AccessState:
        """End a session or PIN prompt left idle longer than the policy allows (call it periodically)."""
        with self._lock:
            if self._state.phase in (Phase.AWAITING_PIN, Phase.OPEN):
                idle = self._clock.monotonic() - self._last_activity
                if idle >= self.policy.idle.total_seconds():
                    self._end(CloseReason.IDLE)
            return self._state

    def logout(self) -> AccessState:
        """The technician leaves; the card must be removed and inserted again to come back."""
        with self._lock:
            self._end(CloseReason.LOGOUT)
            return self._state

    def shutdown(self) -> None:
        """The kiosk stops: an open session is closed (and journaled)."""
        with self._lock:
            self._end(CloseReason.SHUTDOWN)

    # --- internals --------------------------------------------------------------------------------------
    def _attempts(self, card_id: str) -> CardAttempts:
        """The card's record, with an expired lockout cleared and a lockout beyond the policy clipped
        (a wall clock set back must not lock a card for ever)."""
        attempts = self._store.load(card_id)
        until = attempts.locked_until
        if until is None:
            return attempts
        now = self._clock.now()
        if until <= now:
            attempts = CardAttempts()
            self._store.save(card_id, attempts)
        elif until - now > self.policy.lockout:
            attempts = CardAttempts(attempts.failures, now + self.policy.lockout)
            self._store.save(card_id, attempts)
        return attempts

    def _end(self, reason: CloseReason) -> None:
        state = self._state
        if state.phase is Phase.OPEN:
            self._record(AuditKind.SESSION_CLOSED, state.card_id, reason=reason.value)
        elif state.phase is Phase.AWAITING_PIN:
            self._record(AuditKind.PIN_ABANDONED, state.card_id, reason=reason.value)
        else:
            return
        self._set(replace(state, phase=Phase.REJECTED, attempts_left=None, reason=reason.value))

    def _refuse(self, card_id: str | None, reason: str, *, verified: bool = False) -> AccessState:
        self._record(AuditKind.CARD_REFUSED, card_id, verified=verified, reason=reason)
        return self._set(AccessState(Phase.REJECTED, card_id if verified else None, self._state.reader, reason=reason))

    def _set(self, state: AccessState) -> AccessState:
        self._state = state
        return state

    def _record(
        self,
        kind: AuditKind,
        card_id: str | None,
        *,
        verified: bool = True,
        reason: str | None = None,
        attempts_left: int | None = None,
        locked_until: datetime | None = None,
    ) -> None:
        # An unverified id is whatever the card claimed: keep it only if it is well-formed.
        if card_id is not None and not verified:
            try:
                validate_card_id(card_id)
            except ValueError:
                card_id = None
        event = AuditEvent(kind, self._clock.now(), card_id, verified, reason, attempts_left, locked_until)
        self._audit(event)
