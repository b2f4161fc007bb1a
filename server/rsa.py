"""RSA AIS (АИС ОСАГО) behind an adapter: КБМ look-ups, the contract register, the public policy check.

``RsaAis`` is the port; ``RsaSimulator`` answers from its own dataset (``config/rsa_simulator.toml``)
and keeps the policies this server reports in memory next to the seeded ones. The real AIS protocol
(SOAP through the insurer's gateway) is a later adapter with the same three verbs.
"""

from __future__ import annotations

import datetime as dt
import threading
import tomllib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "KbmRecord",
    "RsaAis",
    "RsaPolicy",
    "RsaSimulator",
    "RsaUnavailableError",
    "open_rsa",
]


class RsaUnavailableError(ConnectionError):
    """RSA AIS cannot be reached now."""


@dataclass(frozen=True, slots=True)
class KbmRecord:
    """What AIS answers for one person: class, losses, the previous policy, the request id to record."""

    document: str
    kbm_class: str
    found: bool
    request_id: str
    losses: int = 0
    previous_policy: str | None = None
    previous_insurer: str | None = None


@dataclass(frozen=True, slots=True)
class RsaPolicy:
    """A policy as the public RSA checker shows it."""

    series: str
    number: str
    insurer: str
    #: active | annulled | expired (the check page derives "not yet in force" from the dates)
    status: str
    period_start: dt.date
    period_end: dt.date
    make: str
    category: str
    plate: str | None
    vin: str | None
    power_hp: str | None = None
    purpose: str | None = None
    region: str | None = None


class RsaAis(Protocol):
    """The port: what the server asks of АИС ОСАГО."""

    def available(self) -> bool:
        """Whether AIS answers now."""
        ...

    def kbm(self, documents: Sequence[str], on: dt.date) -> list[KbmRecord]:
        """КБМ records of these people (licence or passport numbers, no spaces), in order."""
        ...

    def report_policy(self, policy: RsaPolicy) -> None:
        """Write a concluded (or annulled) contract to AIS."""
        ...

    def find_policy(self, series: str, number: str) -> RsaPolicy | None:
        """A policy by series and number (the public check)."""
        ...


@dataclass
class RsaSimulator:
    """АИС ОСАГО simulated from a dataset; ``faults`` ("unavailable") for tests."""

    start_class: str
    people: dict[str, dict[str, object]]
    policies: dict[tuple[str, str], RsaPolicy]
    faults: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, faults: set[str] | None = None) -> RsaSimulator:
        """Read the dataset file."""
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("schema") != 1:
            raise ValueError(f"{path}: expected schema = 1")
        people = {str(p["document"]): dict(p) for p in doc.get("people", [])}
        policies = {}
        for raw in doc.get("policies", []):
            policy = RsaPolicy(
                series=str(raw["series"]),
                number=str(raw["number"]),
                insurer=str(raw["insurer"]),
                status=str(raw["status"]),
                period_start=dt.date.fromisoformat(str(raw["period_start"])),
                period_end=dt.date.fromisoformat(str(raw["period_end"])),
                make=str(raw["make"]),
                category=str(raw["category"]),
                plate=raw.get("plate"),
                vin=raw.get("vin"),
                power_hp=raw.get("power_hp"),
                purpose=raw.get("purpose"),
                region=raw.get("region"),
            )
            policies[(policy.series, policy.number)] = policy
        return cls(str(doc["start_class"]), people, policies, set(faults or ()))

    def _check(self) -> None:
        if "unavailable" in self.faults:
            raise RsaUnavailableError("RSA AIS unreachable (simulated)")

    def available(self) -> bool:
        """False while the "unavailable" fault is on."""
        return "unavailable" not in self.faults

    def kbm(self, documents: Sequence[str], on: dt.date) -> list[KbmRecord]:
        """Classes from the dataset; people it does not know get the start class."""
        self._check()
        answers = []
        for document in documents:
            person = self.people.get(document)
            request_id = f"RSA-{on:%Y%m%d}-{uuid.uuid4().hex[:10].upper()}"
            if person is None:
                answers.append(KbmRecord(document, self.start_class, False, request_id))
                continue
            answers.append(
                KbmRecord(
                    document,
                    str(person["kbm_class"]),
                    True,
                    request_id,
                    int(str(person.get("losses", 0))),
                    _text(person.get("previous_policy")),
                    _text(person.get("previous_insurer")),
                )
            )
        return answers

    def report_policy(self, policy: RsaPolicy) -> None:
        """Keep the contract (the latest report of a number wins, as an annulment replaces the record)."""
        self._check()
        with self._lock:
            self.policies[(policy.series, policy.number)] = policy

    def find_policy(self, series: str, number: str) -> RsaPolicy | None:
        """The policy, if AIS knows it."""
        self._check()
        return self.policies.get((series, number))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def open_rsa(url: str, dataset: Path) -> RsaAis:
    """The RSA AIS adapter named by URL: ``sim://rsa[?fault=unavailable]``."""
    parts = urlsplit(url)
    if parts.scheme == "sim" and parts.netloc == "rsa":
        faults = {value for key, value in parse_qsl(parts.query) if key == "fault"}
        return RsaSimulator.load(dataset, faults)
    raise ValueError(f"unsupported RSA AIS URL {url!r} (only sim://rsa so far)")
