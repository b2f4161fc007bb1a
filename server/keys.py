"""Encryption at rest: personal data and kiosk secrets sealed with keys from a file kept apart from the database.

The key file holds Fernet keys, one a line, like the kiosk's ``personal.key``: the first seals, every
one opens. A sealed value names its key, ``<key id>:<Fernet token>`` (the id is the start of the key's
SHA-256), so ``osago-server keys rotate`` finds in SQL the rows not yet under the first key (it resumes
where it stopped) and ``keys prune`` drops only keys no row uses any more.

Equality search on sealed fields goes through a blind index: HMAC-SHA256 of the normalised value
(``server.search``) with an index key that is random, stored in the database (``server_secrets``) and
sealed like everything else. A copy of the database alone yields neither the data nor the index key,
and rotating the file's keys leaves every digest as it was.

Which keys a database uses is bound to its engine (``bind_keyring``); the ``Sealed`` column type
looks them up there, so the tables read and write plain Python values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, Engine, Text, column, select, table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

__all__ = [
    "INDEX_KEY",
    "Keyring",
    "KeyringError",
    "Sealed",
    "UnknownKeyError",
    "add_key",
    "bind_keyring",
    "ensure_index_key",
    "is_sealed",
    "keyring_for",
    "write_key_file",
]

#: the ``server_secrets`` row holding the blind-index key
INDEX_KEY = "blind_index"
_ID_LENGTH = 8
#: how often a running server looks whether the key file changed (``keys add`` while it runs)
_REFRESH_SECONDS = 5.0


class KeyringError(ValueError):
    """The key file is missing, malformed, readable by others, or does not fit the database."""


class UnknownKeyError(KeyringError):
    """A sealed value names a key the key file does not hold (wrong or pruned key file)."""


def key_id(key: bytes) -> str:
    """The short public name of a key (it goes in front of every value it seals)."""
    return hashlib.sha256(key.strip()).hexdigest()[:_ID_LENGTH]


def is_sealed(value: object) -> bool:
    """Whether a stored text looks like ``<key id>:<Fernet token>`` (migrations skip such rows)."""
    return (
        isinstance(value, str)
        and len(value) > _ID_LENGTH + 1
        and value[_ID_LENGTH] == ":"
        and value[_ID_LENGTH + 1 :].startswith("gAAAAA")
    )


def _read_keys(file: Path) -> list[bytes]:
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
        lines = file.read_bytes().splitlines()
    except FileNotFoundError:
        raise KeyringError(f"encryption key file not found: {file}") from None
    except OSError as exc:
        raise KeyringError(f"{file}: cannot read the key file ({exc.strerror})") from None
    if mode & 0o077:
        raise KeyringError(f"{file} may be read by others (mode {mode:o}); chmod 600 it")
    keys = [line.strip() for line in lines if line.strip() and not line.startswith(b"#")]
    if not keys:
        raise KeyringError(f"{file}: holds no key")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise KeyringError(f"{file}: not a Fernet key file (one base64 key of 32 bytes a line)") from None
    return keys


def write_key_file(file: Path, keys: Sequence[bytes]) -> None:
    """Replace the key file atomically (mode 0600; its directory 0700 when created)."""
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(b"".join(key + b"\n" for key in keys))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(file.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def add_key(file: Path) -> str:
    """Put a fresh key first in the file (it seals from now on; the others still open); its id."""
    keys = _read_keys(file)
    new = Fernet.generate_key()
    write_key_file(file, [new, *keys])
    return key_id(new)


class Keyring:
    """The keys that seal and open stored values, and the blind-index key of one database."""

    def __init__(self, keys: Sequence[bytes], *, source: Path | None = None) -> None:
        if not keys:
            raise KeyringError("no encryption key")
        self.source = source
        self._lock = threading.Lock()
        self._index_key: bytes | None = None
        self._load(keys)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()

    def _load(self, keys: Sequence[bytes]) -> None:
        fernets = {key_id(k): Fernet(k) for k in keys}
        self._fernets = fernets
        self.primary_id = key_id(keys[0])
        self.ids = list(fernets)

    @classmethod
    def from_file(cls, path: str | Path, *, create: bool = False) -> Keyring:
        """Load the key file; with ``create`` a missing file is made with one fresh key (mode 0600)."""
        file = Path(path)
        if create and not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # O_EXCL: two processes starting at once must not each write a different key.
            try:
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key() + b"\n")
                    out.flush()
                    os.fsync(out.fileno())
        return cls(_read_keys(file), source=file)

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring with one fresh key and no file (tests)."""
        return cls([Fernet.generate_key()])

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.source is None:
            return None
        try:
            info = self.source.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the key file if it changed (a running server learns a key added by ``keys add``)."""
        if self.source is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < _REFRESH_SECONDS:
            return
        with self._lock:
            self._checked = now
            stamp = self._file_stamp()
            if stamp is None or stamp == self._stamp:
                return
            self._load(_read_keys(self.source))
            self._stamp = stamp

    # -- sealing -------------------------------------------------------------------------------------
    def seal_bytes(self, data: bytes) -> str:
        """``data`` encrypted and authenticated under the first key, as stored text."""
        self.refresh()
        return f"{self.primary_id}:{self._fernets[self.primary_id].encrypt(data).decode('ascii')}"

    def _fernet_of(self, sealed: str) -> tuple[Fernet, str]:
        if not is_sealed(sealed):
            raise KeyringError("a stored value is not sealed (a row the migration did not encrypt?)")
        kid, token = sealed[:_ID_LENGTH], sealed[_ID_LENGTH + 1 :]
        fernet = self._fernets.get(kid)
        if fernet is None:
            self.refresh(force=True)
            fernet = self._fernets.get(kid)
        if fernet is None:
            raise UnknownKeyError(f"a stored value is sealed with key {kid}, which the key file does not hold")
        return fernet, token

    def open_bytes(self, sealed: str) -> bytes:
        """The data back; ``UnknownKeyError`` when the file lacks its key, ``KeyringError`` when tampered."""
        fernet, token = self._fernet_of(sealed)
        try:
            return fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            raise KeyringError("a stored value does not open with its key (altered in the database?)") from None

    def seal(self, value: Any) -> str:
        """A JSON-able value sealed."""
        return self.seal_bytes(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    def open(self, sealed: str) -> Any:
        """A sealed JSON value back."""
        return json.loads(self.open_bytes(sealed))

    def reseal(self, sealed: str) -> str:
        """The same value under the first key (unchanged when it is already)."""
        if sealed.startswith(self.primary_id + ":"):
            return sealed
        return self.seal_bytes(self.open_bytes(sealed))

    # -- blind index ---------------------------------------------------------------------------------
    @property
    def has_index_key(self) -> bool:
        """Whether the database's index key is loaded."""
        return self._index_key is not None

    def set_index_key(self, key: bytes) -> None:
        """Use this database's blind-index key."""
        self._index_key = key

    def digest(self, field: str, normalised: str) -> str:
        """The blind-index digest of a normalised value of ``field`` (hex, 128 bits)."""
        if self._index_key is None:
            raise KeyringError("the blind-index key is not loaded (open the database with its keyring)")
        message = f"{field}\x00{normalised}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()[:32]


# -- a keyring per database engine -----------------------------------------------------------------
_BOUND: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def bind_keyring(engine: Engine, keyring: Keyring) -> None:
    """Seal and open this engine's ``Sealed`` columns with ``keyring``."""
    _BOUND[engine.dialect] = keyring


def keyring_for(dialect: Dialect) -> Keyring:
    """The keyring bound to the engine of ``dialect`` (``KeyringError`` when none is)."""
    keyring = _BOUND.get(dialect)
    if keyring is None:
        raise KeyringError("this database was opened without its encryption keys")
    return keyring


class Sealed(TypeDecorator[Any]):
    """A JSON-able value stored sealed as text (personal data, kiosk secrets)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else keyring_for(dialect).seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else keyring_for(dialect).open(value)


_SECRETS = table("server_secrets", column("name", Text), column("value", Text))


def ensure_index_key(connection: Connection, keyring: Keyring, *, create: bool = True) -> bool:
    """Load the database's blind-index key into ``keyring`` (made on first use); False when there is none."""
    query = select(_SECRETS.c.value).where(_SECRETS.c.name == INDEX_KEY)
    sealed = connection.execute(query).scalar()
    if sealed is None:
        if not create:
            return False
        try:
            with connection.begin_nested():
                connection.execute(
                    _SECRETS.insert().values(name=INDEX_KEY, value=keyring.seal_bytes(secrets.token_bytes(32)))
                )
        except IntegrityError:
            pass  # another process made it first: use theirs
        sealed = connection.execute(query).scalar_one()
    keyring.set_index_key(keyring.open_bytes(sealed))
    return True
