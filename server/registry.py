"""The insurer's register: policies (numbers issued from a range), cancellations, applications, КБМ look-ups.

Every call that changes something is idempotent by the kiosk's Idempotency-Key: the same key returns
the first answer. A number is issued in the same transaction that stores the policy, so a failed
registration never burns a number and two kiosks never get the same one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.validation import FieldError, normalize_plate, normalize_vin
from server.config import ServerSettings
from server.db import Database, insert_ignore
from server.keys import KeyringError
from server.models import Application, ApplicationKey, NumberRange, Policy, PolicyKey
from server.rsa import KbmRecord, RsaAis, RsaPolicy, RsaUnavailableError
from server.schemas import ApplicationIn, PolicyIn
from server.search import personal_digests, search_digests

__all__ = [
    "APPLICATION_SERIES",
    "NotFoundError",
    "Registry",
    "RegistryError",
    "UnavailableError",
    "policy_status",
    "split_policy_number",
]

log = logging.getLogger(__name__)

#: the number range row that counts applications
APPLICATION_SERIES = "APP"


class RegistryError(Exception):
    """The register cannot do what was asked; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(RegistryError):
    """No such policy or application (for this kiosk)."""


class UnavailableError(RegistryError):
    """RSA AIS or the number range is not available now; trying later may work."""


def split_policy_number(text: str) -> tuple[str, str] | None:
    """``"ХХХ 0123456789"`` / ``"ХХХ0123456789"`` (any case, Latin look-alikes) → (series, number)."""
    compact = "".join(text.split()).upper().translate(str.maketrans("XTABEKMHOPCY", "ХТАВЕКМНОРСУ"))
    series, number = compact[:3], compact[3:]
    if len(compact) != 13 or not number.isdigit() or not all("А" <= ch <= "Я" or ch == "Ё" for ch in series):
        return None
    return series, number


def policy_status(status: str, start: dt.date, end: dt.date, today: dt.date) -> str:
    """The status in the RSA checker's words."""
    if status == "annulled":
        return "Прекратил действие (аннулирован)"
    if status == "expired" or today > end:
        return "Прекратил действие (истёк срок)"
    if today < start:
        return "Ожидает начала действия"
    return "Действует"


def _vehicle_id(vehicle: dict[str, Any], key: str, normalize: Callable[[object, str], str]) -> str | None:
    value = vehicle.get(key)
    if value in (None, ""):
        return None
    try:
        return normalize(value, f"vehicle.{key}")
    except FieldError as exc:
        raise RegistryError(str(exc)) from None


class Registry:
    """Policy, application and КБМ operations on the server database."""

    def __init__(
        self,
        database: Database,
        rsa: RsaAis,
        settings: ServerSettings,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.db = database
        self.rsa = rsa
        self.settings = settings
        self.clock = clock

    def _keyring(self) -> Any:
        if self.db.keyring is None:
            raise KeyringError("the register needs the database's keyring")
        return self.db.keyring

    def ensure_ranges(self) -> None:
        """Create the number range rows from the configuration (existing rows are kept)."""
        section = self.settings.policies
        with self.db.transaction() as session:
            for series, first, last in (
                (section.series, section.first_number, section.last_number),
                (APPLICATION_SERIES, 1, 9_999_999),
            ):
                session.execute(
                    insert_ignore(self.db.dialect, NumberRange).values(
                        series=series, next_number=first, last_number=last
                    )
                )

    def _next_number(self, session: Session, series: str) -> int:
        issued = session.execute(
            update(NumberRange)
            .where(NumberRange.series == series, NumberRange.next_number <= NumberRange.last_number)
            .values(next_number=NumberRange.next_number + 1)
            .returning(NumberRange.next_number)
        ).scalar()
        if issued is None:
            raise UnavailableError(f"диапазон номеров {series} исчерпан")
        return int(issued) - 1

    # -- policies ------------------------------------------------------------------------------------
    def find_policy(self, kiosk_id: str, key: str) -> Policy | None:
        """The policy registered with this kiosk's key, if any."""
        with self.db.session() as session:
            return session.scalars(
                select(Policy).where(Policy.kiosk_id == kiosk_id, Policy.idempotency_key == key)
            ).first()

    def register_policy(self, kiosk_id: str, key: str, contract: PolicyIn) -> Policy:
        """Register the contract and issue its number (the same policy again for a repeated key)."""
        earlier = self.find_policy(kiosk_id, key)
        if earlier is not None:
            return earlier
        if contract.period_end <= contract.period_start:
            raise RegistryError("срок страхования заканчивается раньше, чем начинается")
        vehicle = dict(contract.vehicle)
        for name, normalize in (("plate", normalize_plate), ("vin", normalize_vin)):
            value = _vehicle_id(vehicle, name, normalize)
            if value is not None:
                vehicle[name] = value
        if not self.rsa.available():
            raise UnavailableError("АИС ОСАГО недоступна")
        series = self.settings.policies.series
        try:
            with self.db.transaction() as session:
                number = self._next_number(session, series)
                policy = Policy(
                    kiosk_id=kiosk_id,
                    sale_id=contract.sale_id,
                    idempotency_key=key,
                    series=series,
                    number=f"{number:010d}",
                    status="active",
                    period_start=contract.period_start,
                    period_end=contract.period_end,
                    premium=Decimal(contract.premium),
                    tariff_version=contract.tariff_version,
                    coefficients=dict(contract.coefficients),
                    vehicle=vehicle,
                    policyholder=contract.policyholder,
                    owner=contract.owner,
                    drivers=contract.drivers,
                    extra=contract.extra,
                    source="api",
                    registered_at=self.clock(),
                )
                session.add(policy)
                session.flush()
                parties = {"vehicle": vehicle, "policyholder": contract.policyholder, "owner": contract.owner,
                           "drivers": contract.drivers}  # fmt: skip
                for field, digest in sorted(personal_digests(self._keyring(), parties)):
                    session.add(PolicyKey(policy_id=policy.id, field=field, digest=digest))
        except IntegrityError:
            # The same key raced in from a retry: the first registration stands.
            again = self.find_policy(kiosk_id, key)
            if again is None:
                raise
            return again
        self._report(policy)
        return policy

    def _report(self, policy: Policy) -> None:
        """Write the contract to AIS; AIS being down now does not undo the registration (sent again later)."""
        try:
            self.rsa.report_policy(rsa_view(policy, self.settings.insurer.name, self.settings.zone))
        except RsaUnavailableError as exc:
            log.warning("policy %s %s not reported to RSA AIS now: %s", policy.series, policy.number, exc)

    def cancel_policy(self, kiosk_id: str, series: str, number: str, reason: str) -> Policy:
        """Annul a policy of this kiosk (annulling an annulled policy changes nothing)."""
        with self.db.transaction() as session:
            policy = session.scalars(
                select(Policy).where(Policy.series == series, Policy.number == number, Policy.kiosk_id == kiosk_id)
            ).first()
            if policy is None:
                raise NotFoundError(f"полис {series} {number} не найден")
            changed = annul(policy, reason, self.clock())
        if changed:
            self._report(policy)
        return policy

    def find_policies(self, field: str, value: str, limit: int = 100) -> Sequence[Policy]:
        """Policies whose policyholder, owner, driver or vehicle has ``value`` as ``field`` (newest first).

        ``field`` is one of ``server.search.FIELDS`` (phone, passport, licence, plate, vin, body_number);
        the value is normalised as the kiosk normalises input, so any way of writing it finds the same.
        ``SearchError`` when the value cannot be searched for.
        """
        digest = search_digests(self._keyring(), field, value)
        query = (
            select(Policy)
            .join(PolicyKey, PolicyKey.policy_id == Policy.id)
            .where(PolicyKey.field == field, PolicyKey.digest == digest)
            .order_by(Policy.registered_at.desc())
            .limit(limit)
        )
        with self.db.session() as session:
            return session.scalars(query).unique().all()

    def find_applications(self, field: str, value: str, limit: int = 100) -> Sequence[Application]:
        """Applications whose data has ``value`` as ``field`` (newest first); as ``find_policies``."""
        digest = search_digests(self._keyring(), field, value)
        query = (
            select(Application)
            .join(ApplicationKey, ApplicationKey.number == Application.number)
            .where(ApplicationKey.field == field, ApplicationKey.digest == digest)
            .order_by(Application.created_at.desc())
            .limit(limit)
        )
        with self.db.session() as session:
            return session.scalars(query).unique().all()

    # -- applications --------------------------------------------------------------------------------
    def submit_application(self, kiosk_id: str, key: str, body: ApplicationIn) -> Application:
        """Accept an application; its number is the server's (the same one for a repeated key)."""
        with self.db.session() as session:
            earlier = session.scalars(
                select(Application).where(Application.kiosk_id == kiosk_id, Application.idempotency_key == key)
            ).first()
        if earlier is not None:
            return earlier
        now = self.clock()
        local = now.astimezone(self.settings.zone)
        try:
            with self.db.transaction() as session:
                count = self._next_number(session, APPLICATION_SERIES)
                application = Application(
                    number=f"A-{local:%y%m%d}-{count:06d}",
                    kiosk_id=kiosk_id,
                    sale_id=body.sale_id,
                    idempotency_key=key,
                    office=body.office,
                    status="в обработке",
                    data=body.data,
                    premium=Decimal(body.premium) if body.premium else None,
                    visit_by=(local.date() + dt.timedelta(days=7)).isoformat(),
                    created_at=now,
                    updated_at=now,
                )
                session.add(application)
                personal = body.data.get("personal", body.data)
                for field, digest in sorted(personal_digests(self._keyring(), personal)):
                    session.add(ApplicationKey(number=application.number, field=field, digest=digest))
        except IntegrityError:
            with self.db.session() as session:
                again = session.scalars(
                    select(Application).where(Application.kiosk_id == kiosk_id, Application.idempotency_key == key)
                ).first()
            if again is None:
                raise
            return again
        return application

    def applications_since(self, kiosk_id: str, since: dt.datetime | None, limit: int = 1000) -> Sequence[Application]:
        """This kiosk's applications changed after ``since`` (all of them without it), oldest change first."""
        query = select(Application).where(Application.kiosk_id == kiosk_id)
        if since is not None:
            query = query.where(Application.updated_at > since)
        with self.db.session() as session:
            return session.scalars(query.order_by(Application.updated_at).limit(limit)).all()

    def application(self, kiosk_id: str | None, number: str) -> Application:
        """One application (of this kiosk, unless ``kiosk_id`` is None: the operator sees all)."""
        with self.db.session() as session:
            application = session.get(Application, number)
        if application is None or (kiosk_id is not None and application.kiosk_id != kiosk_id):
            raise NotFoundError(f"заявление {number} не найдено")
        return application

    def set_application_status(self, number: str, status: str, operator: str) -> Application:
        """An operator's decision on an application (в обработке → исполнена | отклонена)."""
        with self.db.transaction() as session:
            application = session.get(Application, number)
            if application is None:
                raise NotFoundError(f"заявление {number} не найдено")
            if application.status != status:
                application.status = status
                application.status_by = operator
                application.updated_at = self.clock()
        return application

    # -- КБМ and the public check -------------------------------------------------------------------
    def kbm(self, documents: Sequence[str], on: dt.date) -> list[KbmRecord]:
        """КБМ records from AIS (``UnavailableError`` when it is down)."""
        try:
            return self.rsa.kbm(documents, on)
        except RsaUnavailableError as exc:
            raise UnavailableError("АИС ОСАГО недоступна") from exc

    def check(self, series: str, number: str) -> RsaPolicy | None:
        """A policy as the public check shows it: this insurer's register first, then AIS."""
        with self.db.session() as session:
            policy = session.scalars(select(Policy).where(Policy.series == series, Policy.number == number)).first()
        view = rsa_view(policy, self.settings.insurer.name, self.settings.zone) if policy is not None else None
        if view is None:
            try:
                view = self.rsa.find_policy(series, number)
            except RsaUnavailableError:
                view = None
        if view is None:
            return None
        today = self.clock().astimezone(self.settings.zone).date()
        # What the check shows is AIS's record with the status in the checker's words.
        return replace(view, status=policy_status(view.status, view.period_start, view.period_end, today))


def annul(policy: Policy, reason: str, now: dt.datetime) -> bool:
    """Mark a policy annulled; False when it already was."""
    if policy.status == "annulled":
        return False
    policy.status = "annulled"
    policy.annulled_at = now
    policy.annul_reason = reason[:500] or "аннулирован"
    return True


def rsa_view(policy: Policy, insurer: str, zone: Any) -> RsaPolicy:
    """A registered policy in AIS's terms (dates of cover in the insurer's time zone)."""
    vehicle = policy.vehicle or {}
    make = " ".join(str(vehicle[k]) for k in ("make", "model") if vehicle.get(k))
    last_day = (policy.period_end.astimezone(zone) - dt.timedelta(microseconds=1)).date()
    return RsaPolicy(
        series=policy.series,
        number=policy.number,
        insurer=insurer,
        status=policy.status,
        period_start=policy.period_start.astimezone(zone).date(),
        period_end=last_day,
        make=make or "—",
        category=str(vehicle.get("category", "—")),
        plate=vehicle.get("plate") or None,
        vin=vehicle.get("vin") or None,
        power_hp=str(vehicle["power_hp"]) if vehicle.get("power_hp") is not None else None,
        purpose=vehicle.get("purpose"),
        region=(policy.owner or {}).get("region_code"),
    )
