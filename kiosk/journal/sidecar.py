"""The journal's second record, kept apart from it: which journal this kiosk sells on and how far it got.

``journal.db`` holds its own identity and a sequence number bumped in the same transaction as every
change (``kiosk.journal.db``). This small file holds the same identity and the last sequence the kiosk
saw committed, the outbox high-water mark the central server acknowledged, and — when a write to the
journal failed after the money moved — a note of what happened to that sale. At start-up the guard
(``kiosk.journal.guard``) compares the two: a journal that is older than this record, belongs to
another kiosk or is not there at all is never sold on.

Layout: two fixed slots of ``SLOT`` bytes. Each slot is one JSON object (ASCII) padded with spaces
and ended by a newline; the object carries a SHA-256 check over its own fields. An update writes the
slot that does not hold the newest valid record and then ``fdatasync``s, so a torn write spoils only
the slot being written and the other still holds the previous record. The file is allocated once:
overwriting a slot needs no new disk blocks, so a note can still be written on a full disk (ext4,
tmpfs; not on copy-on-write file systems such as btrfs). Several processes (the UI, ``osago-kiosk
sync``) update it under ``flock``; every field only moves forward, so their updates merge.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT",
    "SLOT",
    "Note",
    "Sidecar",
    "SidecarError",
    "SidecarRecord",
    "decode_slot",
    "encode_slot",
    "read_sidecar",
]

FORMAT = "osago-journal-sidecar/1"
#: bytes per slot; the file is two slots
SLOT = 2048
#: notes kept at most (a full disk stops sales after the first one, so one or two are the real case)
MAX_NOTES = 6
STATES = ("ok", "reconcile")


class SidecarError(ValueError):
    """The sidecar file exists but holds no valid record (both slots torn or foreign)."""


@dataclass(frozen=True)
class Note:
    """A sale's outcome the journal could not record (its write failed after the money moved)."""

    sale_id: str
    #: the sale state the kiosk reached (``completed``, ``reversed``, ``flagged``)
    state: str
    #: what the terminal said about the money: ``committed``, ``reversed`` or ``unknown``
    money: str
    amount: str | None = None
    trace: str | None = None
    receipt_no: str | None = None
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the slot."""
        required = ("sale_id", "state", "money")
        return {k: v for k, v in dataclasses.asdict(self).items() if k in required or v not in (None, "")}

    @classmethod
    def from_dict(cls, raw: Any) -> Note:
        """Parse a note (``ValueError`` on anything else)."""
        if not isinstance(raw, dict):
            raise ValueError("a note is an object")
        known = {f.name for f in dataclasses.fields(cls)}
        if set(raw) - known or not {"sale_id", "state", "money"} <= set(raw):
            raise ValueError("a note has sale_id, state, money and known fields only")
        if not all(isinstance(v, str) and len(v) <= 64 for v in raw.values()):
            raise ValueError("note fields are short strings")
        return cls(**raw)


@dataclass(frozen=True)
class SidecarRecord:
    """One record of the sidecar."""

    journal_id: str
    kiosk_id: str
    #: the journal's sequence after its last commit this kiosk saw
    seq: int
    #: highest outbox row id the central server acknowledged
    acked: int = 0
    #: ``reconcile``: a restored journal waits for reconciliation before the kiosk sells
    state: str = "ok"
    #: how this journal came to be: ``install``, ``init``, ``restore``, ``adopt``
    origin: str = "install"
    created_at: str = ""
    notes: tuple[Note, ...] = field(default=())
    #: write generation: the slot with the higher one is the newer (every update adds one)
    gen: int = 0

    def body(self) -> dict[str, Any]:
        """The fields as stored (without the check)."""
        return {
            "format": FORMAT,
            "journal_id": self.journal_id,
            "kiosk_id": self.kiosk_id,
            "seq": self.seq,
            "acked": self.acked,
            "state": self.state,
            "origin": self.origin,
            "created_at": self.created_at,
            "notes": [n.to_dict() for n in self.notes],
            "gen": self.gen,
        }

    def merged(self, newer: SidecarRecord) -> SidecarRecord:
        """``newer``'s fields, but counters never go back (several processes update the file)."""
        return dataclasses.replace(
            newer, seq=max(self.seq, newer.seq), acked=max(self.acked, newer.acked), gen=self.gen
        )


def _check(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


def encode_slot(record: SidecarRecord) -> bytes:
    """One slot: the record's JSON with its check, padded to ``SLOT`` bytes (``ValueError`` if too big)."""
    body = record.body()
    text = json.dumps({**body, "check": _check(body)}, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if len(text) > SLOT - 1:
        raise ValueError(f"sidecar record of {len(text)} bytes does not fit a {SLOT}-byte slot")
    return text + b" " * (SLOT - 1 - len(text)) + b"\n"


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ValueError(f"{name} is a non-negative integer")
    return value


def _text(value: Any, name: str, longest: int = 64) -> str:
    if not isinstance(value, str) or len(value) > longest:
        raise ValueError(f"{name} is a string of at most {longest} characters")
    return value


def decode_slot(raw: bytes) -> SidecarRecord | None:
    """The record in one slot, or None when the slot is empty, torn, foreign or fails its check."""
    try:
        loaded = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
        return None
    check = loaded.pop("check", None)
    expected = {"format", "journal_id", "kiosk_id", "seq", "acked", "state", "origin", "created_at", "notes", "gen"}
    if not isinstance(check, str) or set(loaded) != expected:
        return None
    try:
        if check != _check(loaded):
            return None
        notes = loaded["notes"]
        if not isinstance(notes, list) or len(notes) > MAX_NOTES:
            return None
        state = _text(loaded["state"], "state")
        if state not in STATES:
            return None
        return SidecarRecord(
            journal_id=_text(loaded["journal_id"], "journal_id"),
            kiosk_id=_text(loaded["kiosk_id"], "kiosk_id"),
            seq=_int(loaded["seq"], "seq"),
            acked=_int(loaded["acked"], "acked"),
            state=state,
            origin=_text(loaded["origin"], "origin"),
            created_at=_text(loaded["created_at"], "created_at"),
            notes=tuple(Note.from_dict(n) for n in notes),
            gen=_int(loaded["gen"], "gen"),
        )
    except (ValueError, TypeError):
        return None


def _best(data: bytes) -> tuple[SidecarRecord | None, int]:
    """The newest valid record of the file's bytes and the slot it is in (-1: none)."""
    best: SidecarRecord | None = None
    where = -1
    for index in range(2):
        record = decode_slot(data[index * SLOT : (index + 1) * SLOT])
        if record is not None and (best is None or record.gen > best.gen):
            best, where = record, index
    return best, where


def read_sidecar(path: Path) -> SidecarRecord:
    """The newest valid record (``FileNotFoundError`` when there is no file, ``SidecarError`` when unreadable)."""
    data = path.read_bytes()
    record, _ = _best(data)
    if record is None:
        raise SidecarError(f"{path}: no valid record in {len(data)} bytes")
    return record


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Sidecar:
    """The sidecar file of one journal; ``syncs`` counts the fsyncs it made (the benchmark reports them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.syncs = 0
        self._fd: int | None = None

    def create(self, record: SidecarRecord) -> None:
        """Write a fresh file holding ``record`` (atomically: a temporary file, fsync, rename, fsync the directory)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, encode_slot(record) + b" " * (SLOT - 1) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        _fsync_dir(self.path.parent)
        self.syncs += 2

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR)
        return self._fd

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def read(self) -> SidecarRecord:
        """The newest valid record (``SidecarError`` if none)."""
        with self._locked() as fd:
            record, _ = _best(os.pread(fd, 2 * SLOT, 0))
        if record is None:
            raise SidecarError(f"{self.path}: no valid record")
        return record

    def update(self, change: Callable[[SidecarRecord], SidecarRecord]) -> SidecarRecord:
        """Read the newest record, apply ``change``, write it to the other slot and fdatasync (under flock)."""
        with self._locked() as fd:
            current, where = _best(os.pread(fd, 2 * SLOT, 0))
            if current is None:
                raise SidecarError(f"{self.path}: no valid record to update")
            record = current.merged(change(current))
            if record == current:
                return current
            record = dataclasses.replace(record, gen=current.gen + 1)
            os.pwrite(fd, encode_slot(record), (1 - where) * SLOT if where >= 0 else 0)
            os.fdatasync(fd)
            self.syncs += 1
            return record

    def committed(self, seq: int) -> None:
        """The journal committed its change number ``seq``."""
        self.update(lambda r: dataclasses.replace(r, seq=seq))

    def acknowledged(self, outbox_id: int) -> None:
        """The server acknowledged every outbox row up to ``outbox_id``."""
        self.update(lambda r: dataclasses.replace(r, acked=outbox_id))

    def add_note(self, note: Note) -> None:
        """Keep a sale's outcome the journal could not record (newest kept when the slot is full)."""

        def add(record: SidecarRecord) -> SidecarRecord:
            others = tuple(n for n in record.notes if n.sale_id != note.sale_id)
            return dataclasses.replace(record, notes=(*others, note)[-MAX_NOTES:])

        self.update(add)

    def drop_notes(self, sale_ids: set[str]) -> None:
        """The journal has recorded these sales' outcomes now."""
        self.update(lambda r: dataclasses.replace(r, notes=tuple(n for n in r.notes if n.sale_id not in sale_ids)))

    def close(self) -> None:
        """Release the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def now_text() -> str:
    """The current UTC time as stored in the sidecar."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
