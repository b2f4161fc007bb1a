"""An in-process insurer: КБМ answers from a small dataset, policy numbers from a range, persistent.

State is a small SQLite database (WAL, synchronous=FULL), so a kiosk that crashes after registering a
policy gets the same number back when it repeats the call with the same key — as the real insurer's
idempotent API would answer. Faults can be switched on for tests and demos.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import tomllib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.insurer.port import (
    ApplicationReceipt,
    GatewayRejectedError,
    GatewayUnavailableError,
    KbmAnswer,
    KbmQuery,
    PolicyContract,
    RegisteredPolicy,
)
from kiosk.sqlstore import owner_only

__all__ = ["FAULTS", "InsurerSimulator", "SimulatorDataset"]

#: Faults a test can switch on: the whole insurer down, or one operation failing.
FAULTS = frozenset({"unavailable", "register", "register_reject", "cancel", "kbm", "application"})


@dataclass(frozen=True)
class SimulatorDataset:
    """What the simulated insurance database knows."""

    series: str
    first_number: int
    start_class: str
    classes: dict[str, str]
    offices: tuple[dict[str, str], ...]

    @classmethod
    def load(cls, path: str | Path) -> SimulatorDataset:
        """Read the dataset file (``config/insurer_simulator.toml``)."""
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("schema") != 1:
            raise ValueError(f"{path}: expected schema = 1")
        return cls(
            series=str(doc["series"]),
            first_number=int(doc["first_number"]),
            start_class=str(doc["start_class"]),
            classes={str(p["document"]): str(p["kbm_class"]) for p in doc.get("people", [])},
            offices=tuple({k: str(v) for k, v in office.items()} for office in doc.get("offices", [])),
        )


@dataclass
class InsurerSimulator:
    """The simulated insurer (thread-safe). Its state is a small SQLite database, so memory stays flat
    however many policies it issues, and a restart finds every registration again."""

    dataset: SimulatorDataset
    state_file: Path | None = None
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    faults: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.state_file) if self.state_file else ":memory:", check_same_thread=False)
        owner_only(self._db)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA cache_size=-256")  # it runs inside the kiosk process: keep it small
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL,"
            " op TEXT NOT NULL, body TEXT NOT NULL)"
        )
        self._db.commit()

    # -- state -----------------------------------------------------------------------------------
    def _find(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM records WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _record(self, record: dict[str, Any]) -> None:
        try:
            with self._db:  # one durable transaction per record
                self._db.execute(
                    "INSERT INTO records (key, op, body) VALUES (?, ?, ?)",
                    (record["key"], record["op"], json.dumps(record, ensure_ascii=False)),
                )
        except sqlite3.OperationalError as exc:  # its own store failed (a full disk): the insurer is unavailable
            raise GatewayUnavailableError(f"insurer simulator cannot store the record: {exc}") from None

    def _next_number(self) -> int:
        row = self._db.execute(
            "SELECT max(CAST(json_extract(body, '$.number') AS INTEGER)) FROM records WHERE op = 'register'"
        ).fetchone()
        return max(self.dataset.first_number, (row[0] or 0) + 1)

    def records(self, op: str | None = None) -> list[dict[str, Any]]:
        """Every record (or those of one operation), in order — for reconciliation."""
        query = "SELECT body FROM records" + (" WHERE op = ?" if op else "") + " ORDER BY seq"
        with self._lock:
            return [json.loads(body) for (body,) in self._db.execute(query, (op,) if op else ())]

    @property
    def registered(self) -> list[dict[str, Any]]:
        """Every registration, in order."""
        return self.records("register")

    @property
    def cancelled(self) -> set[tuple[str, str]]:
        """(series, number) of every annulled policy."""
        return {(r["series"], r["number"]) for r in self.records("cancel")}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _check(self, operation: str) -> None:
        if "unavailable" in self.faults:
            raise GatewayUnavailableError("insurer unreachable (simulated)")
        if operation in self.faults:
            raise GatewayUnavailableError(f"insurer failed to {operation} (simulated)")

    # -- the port --------------------------------------------------------------------------------
    def available(self) -> bool:
        """False while the "unavailable" fault is on."""
        return "unavailable" not in self.faults

    def kbm_lookup(self, queries: Sequence[KbmQuery], on: dt.date) -> list[KbmAnswer]:
        """Classes from the dataset; unknown people get the start class."""
        self._check("kbm")
        answers = []
        for query in queries:
            found = query.document in self.dataset.classes
            kbm_class = self.dataset.classes.get(query.document, self.dataset.start_class)
            answers.append(KbmAnswer(kbm_class, f"SIM-{uuid.uuid4().hex[:12]}", found))
        return answers

    def register_policy(self, contract: PolicyContract, *, idempotency_key: str) -> RegisteredPolicy:
        """A new number from the range, or the same one for a repeated key."""
        with self._lock:
            earlier = self._find(idempotency_key)
            if earlier is not None:
                return RegisteredPolicy(earlier["series"], earlier["number"], dt.datetime.fromisoformat(earlier["at"]))
            self._check("register")
            if "register_reject" in self.faults:
                raise GatewayRejectedError("данные не прошли проверку в АИС ОСАГО (simulated)")
            record = {
                "op": "register",
                "key": idempotency_key,
                "sale_id": contract.sale_id,
                "series": self.dataset.series,
                "number": f"{self._next_number():010d}",
                "premium": str(contract.premium),
                "at": self.clock().isoformat(),
            }
            self._record(record)
            return RegisteredPolicy(record["series"], record["number"], dt.datetime.fromisoformat(record["at"]))

    def find_policy(self, idempotency_key: str) -> RegisteredPolicy | None:
        """The registration made with this key, if any."""
        self._check("kbm")
        with self._lock:
            record = self._find(idempotency_key)
        if record is None or record["op"] != "register":
            return None
        return RegisteredPolicy(record["series"], record["number"], dt.datetime.fromisoformat(record["at"]))

    def cancel_policy(self, series: str, number: str, *, reason: str, idempotency_key: str) -> None:
        """Annul a policy (idempotent)."""
        with self._lock:
            if self._find(idempotency_key) is not None:
                return
            self._check("cancel")
            issued = self._db.execute(
                "SELECT 1 FROM records WHERE op = 'register' AND json_extract(body, '$.series') = ?"
                " AND json_extract(body, '$.number') = ?",
                (series, number),
            ).fetchone()
            if issued is None:
                raise GatewayRejectedError(f"no such policy {series} {number}")
            self._record(
                {
                    "op": "cancel",
                    "key": idempotency_key,
                    "series": series,
                    "number": number,
                    "reason": reason,
                    "at": self.clock().isoformat(),
                }
            )

    def submit_application(
        self, sale_id: str, data: dict[str, Any], *, office: str, idempotency_key: str
    ) -> ApplicationReceipt:
        """Accept an application (number from the insurer)."""
        with self._lock:
            earlier = self._find(idempotency_key)
            if earlier is not None:
                return ApplicationReceipt(earlier["number"], "в обработке", earlier["office"])
            self._check("application")
            count = self._db.execute("SELECT count(*) FROM records WHERE op = 'application'").fetchone()[0] + 1
            record = {
                "op": "application",
                "key": idempotency_key,
                "sale_id": sale_id,
                "number": f"A-{self.clock():%y%m%d}-{count:05d}",
                "office": office,
                "at": self.clock().isoformat(),
            }
            self._record(record)
            return ApplicationReceipt(record["number"], "в обработке", office)
