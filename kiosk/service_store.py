"""``JsonAttemptStore``: wrong-PIN counts and lockouts in a small JSON file under the data directory.

The file is rewritten whole on every change (write to a temporary file, fsync, rename, fsync the
directory), mode 0600. A file that cannot be read or parsed is an ``AttemptStoreError``: access is
refused rather than the counts silently reset (deleting the file is how an administrator resets them).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk.service_access import AttemptStoreError, CardAttempts

__all__ = ["JsonAttemptStore"]

_VERSION = 1


class JsonAttemptStore:
    """An ``AttemptStore`` in one JSON file: ``{"version": 1, "cards": {ID: {"failures", "locked_until"}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self, card_id: str) -> CardAttempts:
        """The card's record (fresh if the file or the card is absent)."""
        with self._lock:
            record = self._read().get(card_id)
        if record is None:
            return CardAttempts()
        try:
            failures = int(record["failures"])
            until = record.get("locked_until")
            locked_until = datetime.fromisoformat(until) if until else None
        except (KeyError, TypeError, ValueError) as exc:
            raise AttemptStoreError(f"{self.path}: bad record for {card_id}: {exc}") from None
        if failures < 0 or (locked_until is not None and locked_until.tzinfo is None):
            raise AttemptStoreError(f"{self.path}: bad record for {card_id}")
        return CardAttempts(failures, locked_until)

    def save(self, card_id: str, attempts: CardAttempts) -> None:
        """Write the card's record durably."""
        with self._lock:
            cards = self._read()
            if attempts == CardAttempts():
                cards.pop(card_id, None)
            else:
                cards[card_id] = {
                    "failures": attempts.failures,
                    "locked_until": attempts.locked_until.isoformat() if attempts.locked_until else None,
                }
            self._write({"version": _VERSION, "cards": cards})

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AttemptStoreError(f"{self.path}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AttemptStoreError(f"{self.path}: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("cards"), dict):
            raise AttemptStoreError(f"{self.path}: not a version {_VERSION} attempt file")
        cards: dict[str, Any] = data["cards"]
        return cards

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise AttemptStoreError(f"{self.path}: cannot write ({exc})") from None
