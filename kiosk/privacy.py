"""Personal data at rest: encrypted with a key file only the kiosk's user can read (152-ФЗ).

The key file holds one or more Fernet keys, one per line; the first encrypts, all decrypt, so a key can
be rotated by prepending a new one. A key file readable by group or others is refused.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["KeyFileError", "PersonalDataCipher"]


class KeyFileError(PermissionError):
    """The key file is missing, malformed or readable by someone else."""


class PersonalDataCipher:
    """Encrypts and decrypts JSON-able personal data."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyFileError("no encryption key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_key_file(cls, path: str | Path, *, create: bool = False) -> PersonalDataCipher:
        """Load the keys; with ``create`` a missing file is made with a fresh key and mode 0600."""
        file = Path(path)
        if not file.exists():
            if not create:
                raise KeyFileError(f"encryption key file not found: {file}")
            file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # O_EXCL: two processes starting at once must not both write a different key.
            try:
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key() + b"\n")
                    out.flush()
                    os.fsync(out.fileno())
        mode = stat.S_IMODE(file.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(f"{file} is readable by others (mode {mode:o}); chmod 600 it")
        keys = [line.strip() for line in file.read_bytes().splitlines() if line.strip()]
        try:
            return cls(keys)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{file}: not a valid key file: {exc}") from None

    def encrypt(self, data: Any) -> bytes:
        """The JSON of ``data``, encrypted and authenticated."""
        return self._fernet.encrypt(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())

    def decrypt(self, token: bytes) -> Any:
        """The data back; ``KeyFileError`` when no key opens it (wrong or rotated-out key)."""
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise KeyFileError("personal data cannot be decrypted with the configured keys") from None
