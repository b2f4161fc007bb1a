"""The simulated terminal's ledger: an append-only JSON-lines "bank statement".

One line per event, flushed and fsynced before the terminal says anything about it, so a crash test
can reconcile the kiosk's journal against what the "bank" saw. Events:

``authorised`` (approved, goods decision pending), ``committed``, ``reversed``, ``declined``,
``refunded``, ``end_of_day``. Each line: ``seq``, ``time`` (UTC, ISO 8601), ``event``, and where they
apply ``receipt_no``, ``trace``, ``amount`` (a string, e.g. "1234.50"), ``result_code`` (two hex
digits), ``reason``, plus event-specific keys (``masked_pan``, ``card_type``, ``original_trace`` …).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from drivers.payment.models import Fate

EVENT_FATES = {
    "authorised": Fate.PENDING,
    "committed": Fate.COMMITTED,
    "reversed": Fate.REVERSED,
    "declined": Fate.DECLINED,
    "refunded": Fate.REFUNDED,
}
_KNOWN = ("seq", "time", "event", "receipt_no", "trace", "amount", "result_code", "reason")


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger line, typed."""

    seq: int
    time: datetime
    event: str
    receipt_no: str | None = None
    trace: str | None = None
    amount: Decimal | None = None
    result_code: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fate(self) -> Fate | None:
        """The money state this event leaves the transaction in (None for end_of_day)."""
        return EVENT_FATES.get(self.event)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LedgerEntry:
        amount = obj.get("amount")
        return cls(
            seq=int(obj["seq"]),
            time=datetime.fromisoformat(obj["time"]),
            event=str(obj["event"]),
            receipt_no=obj.get("receipt_no"),
            trace=obj.get("trace"),
            amount=None if amount is None else Decimal(amount),
            result_code=obj.get("result_code"),
            reason=obj.get("reason"),
            extra={k: v for k, v in obj.items() if k not in _KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"seq": self.seq, "time": self.time.isoformat(), "event": self.event}
        for key in ("receipt_no", "trace", "result_code", "reason"):
            if getattr(self, key) is not None:
                obj[key] = getattr(self, key)
        if self.amount is not None:
            obj["amount"] = f"{self.amount:.2f}"
        obj.update(self.extra)
        return obj


def read_ledger(path: str | os.PathLike[str]) -> list[LedgerEntry]:
    """All entries of a ledger file (missing file: none). A torn last line (the writer died mid-line)
    is ignored; a bad line anywhere else is an error."""
    target = Path(path)
    if not target.exists():
        return []
    lines = target.read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entries.append(LedgerEntry.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                break
            raise ValueError(f"{target}:{number}: bad ledger line: {exc}") from exc
    return entries


def final_states(
    source: str | os.PathLike[str] | Iterable[LedgerEntry], key: str = "receipt_no"
) -> dict[str, LedgerEntry]:
    """The last fate-bearing event per transaction, keyed by receipt number (or ``key="trace"``).
    A reversal by command is recorded under the receipt number of the payment it reversed."""
    entries = read_ledger(source) if isinstance(source, str | os.PathLike) else list(source)
    view: dict[str, LedgerEntry] = {}
    for entry in entries:
        ident = getattr(entry, key)
        if entry.fate is not None and ident is not None:
            view[ident] = entry
    return view


class LedgerLockedError(RuntimeError):
    """Another simulator writes this ledger."""


class Ledger:
    """The writer. ``path=None`` keeps the ledger in memory only.

    With ``lock_wait`` the file is locked (``flock``) before it is read: two simulators must never write
    one ledger, and one that starts while the previous one is still exiting waits that long for it.
    A torn last line (a writer killed mid-line) is cut off, so the next line starts clean.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, lock_wait: float | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.entries: list[LedgerEntry] = []
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
            if lock_wait is not None:
                self._lock(lock_wait)
            self._cut_torn_tail()
            self.entries = read_ledger(self.path)

    def _lock(self, wait: float) -> None:
        assert self._file is not None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._file.close()
                    self._file = None
                    raise LedgerLockedError(f"ledger {self.path} is in use by another simulator") from None
                time.sleep(0.05)

    def _cut_torn_tail(self) -> None:
        assert self.path is not None
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.truncate(self.path, data.rfind(b"\n") + 1)

    def append(self, event: str, **fields: Any) -> LedgerEntry:
        known = {k: fields.pop(k) for k in ("receipt_no", "trace", "amount", "result_code", "reason") if k in fields}
        entry = LedgerEntry(
            seq=(self.entries[-1].seq + 1) if self.entries else 1,
            time=datetime.now(UTC),
            event=event,
            extra={k: v for k, v in fields.items() if v is not None},
            **known,
        )
        if self._file is not None:
            self._file.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        self.entries.append(entry)
        return entry

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # closing releases the lock
            self._file = None
