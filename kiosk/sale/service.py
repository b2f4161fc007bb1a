"""The sale workflow: from the customer's data to the printed policy, with the money always accounted for.

Order of a paid sale (each intent state is committed to the journal *before* the call it names)::

    quote → consent → preflight → payment_started → [terminal.authorise] → authorised
          → registering → [insurer.register_policy] → registered
          → printing → [printer.print_document] → printed
          → confirming → [terminal.confirm_goods] → completed        (the commit point)

If registration or printing fails after the authorisation, the sale goes ``refusing`` →
[terminal.refuse_goods] → ``reversed``: the terminal reverses the payment, a registered policy is
annulled, a printed copy is recorded as spoiled. When the insurer is unreachable before payment, the
customer may file an application instead (no money, an information letter). One customer at a time;
a repeated action id (a double tap) is ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers.payment import Authorisation, Fate, PaymentTerminal, StatusCallback, TransactionResult
from drivers.printer import PrinterError, ReceiptPrinter
from drivers.printer.layout import Document
from kiosk import outbox
from kiosk.documents.letter import OfficeInfo
from kiosk.insurer import (
    GatewayError,
    GatewayUnavailableError,
    InsurerGateway,
    KbmQuery,
    PolicyContract,
    RegisteredPolicy,
)
from kiosk.journal.db import Journal, JournalWriteError
from kiosk.journal.models import (
    ApplicationRecord,
    JournalEntry,
    PaymentAttempt,
    PersonalData,
    PolicyRecord,
    PrintJob,
    ProcessedAction,
    SaleEvent,
    SaleRecord,
)
from kiosk.journal.sidecar import Note, SidecarError
from kiosk.privacy import PersonalDataCipher
from kiosk.sale.model import SaleInput
from kiosk.sale.paper import Paper, policy_period
from kiosk.sale.states import FINAL, MONEY_AT_RISK, TRANSITIONS, SaleState, check_transition
from kiosk.tariffs import Quote, TariffEngine, quote_to_json
from kiosk.validation import FieldError

__all__ = [
    "Checkpoint",
    "DuplicateActionError",
    "JournalFailedError",
    "KioskBusyError",
    "Preflight",
    "QuoteView",
    "SaleConfig",
    "SaleError",
    "SaleOutcome",
    "SaleService",
    "same_transaction",
]

log = logging.getLogger(__name__)
S = SaleState

#: Called with a step name at each point where a crash would leave a different state behind.
#: Production passes a no-op; the crash tests pass one that kills the process.
Checkpoint = Callable[[str], None]

#: ZVT result code the kiosk sends when it refuses the goods (84 66: "goods not delivered").
REFUSE_CODE = 0x66
PAYMENT_STATES = (S.READY_TO_PAY, S.PAYMENT_DECLINED)


class SaleError(Exception):
    """A sale operation cannot be done now; ``message`` is for the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KioskBusyError(SaleError):
    """Another sale holds the kiosk (or waits for recovery)."""


class DuplicateActionError(SaleError):
    """This action id was handled already (a repeated tap)."""


class JournalFailedError(SaleError):
    """The journal cannot record the sale (disk full, read-only, I/O error): the kiosk stops selling.

    Raised only where no money has moved; the touchscreen shows its out-of-service screen.
    """


@dataclass(frozen=True)
class SaleConfig:
    """What the sale needs to know about this kiosk and its insurer."""

    kiosk_id: str
    zone: ZoneInfo
    paper: Paper
    offices: tuple[OfficeInfo, ...]
    earliest_start_days: int = 1
    retention_days: int = 30
    #: how long to keep asking a terminal whose answer was lost (its own goods timeout bounds it)
    settle_attempts: int = 5
    settle_pause: float = 2.0
    #: the data directory and the free space it must have before money may move (preflight)
    data_dir: Path | None = None
    min_free_bytes: int = 0
    #: a journal write after the money moved is tried this often (pauses doubling from write_pause)
    write_attempts: int = 4
    write_pause: float = 0.5


@dataclass(frozen=True)
class QuoteView:
    """A priced sale: the quote and whether the КБМ classes were confirmed by the insurer."""

    sale_id: str
    quote: Quote
    kbm_verified: bool
    kbm_classes: tuple[str, ...]


@dataclass(frozen=True)
class Preflight:
    """Whether money may move: every device ready. ``can_apply`` offers the application path."""

    ready: bool
    can_apply: bool
    problems: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> str:
        """The problems in Russian, one per line."""
        return "\n".join(text for _, text in self.problems)


@dataclass(frozen=True)
class SaleOutcome:
    """How a sale ended (or where it stopped), told in Russian, with what happened to the money."""

    sale_id: str
    state: SaleState
    message: str
    money: str
    policy: str | None = None
    receipt_no: str | None = None
    application: str | None = None
    terminal_text: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SaleService:
    """The kiosk's sale verbs, as the touchscreen and the demo call them."""

    def __init__(
        self,
        *,
        journal: Journal,
        tariffs: TariffEngine,
        terminal: PaymentTerminal,
        printer: ReceiptPrinter,
        insurer: InsurerGateway,
        cipher: PersonalDataCipher,
        config: SaleConfig,
        clock: Callable[[], dt.datetime] = _utc_now,
        checkpoint: Checkpoint | None = None,
        sleep: Callable[[float], None] = time.sleep,
        disk_usage: Callable[[Path], Any] = shutil.disk_usage,
    ) -> None:
        self.journal = journal
        self.tariffs = tariffs
        self.terminal = terminal
        self.printer = printer
        self.insurer = insurer
        self.cipher = cipher
        self.config = config
        self.clock = clock
        self._checkpoint = checkpoint or (lambda _name: None)
        self._sleep = sleep
        self._disk_usage = disk_usage
        # One customer, one operation at a time: the UI calls from worker threads.
        self._busy = threading.RLock()
        #: outcomes the journal could not record after the money moved (also kept in the sidecar), with
        #: the write that records them
        self._pending: dict[str, tuple[Note, Callable[[], SaleOutcome]]] = {}

    @property
    def device_lock(self) -> threading.RLock:
        """Held by every sale verb, payment and printing included: whoever else uses the terminal or the
        printer (diagnostics, health reports) takes it too, so they never talk to a device mid-sale."""
        return self._busy

    # ------------------------------------------------------------------------------------------
    # journal helpers

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.journal.transaction() as session:
            yield session

    def _sale(self, session: Session, sale_id: str) -> SaleRecord:
        sale = session.get(SaleRecord, sale_id)
        if sale is None:
            raise SaleError("Покупка не найдена. Начните заново.")
        return sale

    def _move(self, session: Session, sale: SaleRecord, target: SaleState, key: str, **detail: Any) -> None:
        """Change the state (checked) and append the event; the caller's transaction commits both."""
        current = S(sale.state)
        check_transition(current, target)
        now = self.clock()
        sale.state = target.value
        sale.updated_at = now
        if target in FINAL:
            sale.finished_at = now
        session.add(
            SaleEvent(
                sale_id=sale.id, at=now, from_state=current.value, to_state=target.value, key=key, detail=detail or None
            )
        )

    def _emit(
        self, session: Session, kind: str, sale: SaleRecord, payload: dict[str, Any], personal: Any = None
    ) -> None:
        outbox.emit(
            session,
            kind,
            {"sale_id": sale.id, **payload},
            at=self.clock(),
            sale_id=sale.id,
            personal=personal,
            cipher=self.cipher,
        )

    def _claim(self, session: Session, action_id: str, sale_id: str | None) -> None:
        """Record an action id; a second use of the same id raises DuplicateActionError."""
        if session.get(ProcessedAction, action_id) is not None:
            raise DuplicateActionError("Действие уже выполняется")
        session.add(ProcessedAction(action_id=action_id, sale_id=sale_id, at=self.clock()))

    def _input(self, sale: SaleRecord) -> SaleInput:
        if sale.personal is None or sale.personal.ciphertext is None:
            raise SaleError("Данные покупки недоступны")
        return SaleInput.from_dict(self.cipher.decrypt(sale.personal.ciphertext))

    def _today(self) -> dt.date:
        return self.clock().astimezone(self.config.zone).date()

    # ------------------------------------------------------------------------------------------
    # before payment

    def start_sale(self, *, action_id: str) -> str:
        """Open a sale for a new customer. Leftover unpaid sales of a customer who walked away end.

        Outcomes the journal could not record before are recorded first (a sale they end would else
        keep the kiosk busy).
        """
        if self._pending:
            with self._busy:
                self.record_unrecorded()
        with self._busy, self._tx() as session:
            existing = session.get(ProcessedAction, action_id)
            if existing is not None and existing.sale_id is not None:
                return existing.sale_id
            open_sales = session.scalars(
                select(SaleRecord).where(SaleRecord.state.not_in([s.value for s in FINAL]))
            ).all()
            for stale in open_sales:
                if S(stale.state) is S.FLAGGED:
                    # Parked for the technician (and reported to the operator); later sales are independent.
                    continue
                if S(stale.state) in MONEY_AT_RISK or S(stale.state) is S.APPLICATION:
                    raise KioskBusyError("Киоск завершает предыдущую операцию. Подождите, пожалуйста.")
                self._move(session, stale, S.ABANDONED, f"{stale.id}:abandon", reason="new customer")
            sale_id = str(uuid.uuid4())
            now = self.clock()
            session.add(
                SaleRecord(
                    id=sale_id, kiosk_id=self.config.kiosk_id, state=S.CREATED.value, created_at=now, updated_at=now
                )
            )
            session.add(
                SaleEvent(sale_id=sale_id, at=now, from_state=None, to_state=S.CREATED.value, key=f"{sale_id}:create")
            )
            self._claim(session, action_id, sale_id)
            return sale_id

    def enter(self, sale_id: str, data: SaleInput, *, action_id: str) -> QuoteView:
        """Price the customer's data with КБМ classes from the insurer (FieldError on bad data)."""
        earliest = self._today() + dt.timedelta(days=self.config.earliest_start_days)
        if data.start_date < earliest:
            raise FieldError(f"Дата начала договора — не раньше {earliest:%d.%m.%Y}", "period.start_date")
        verified = True
        try:
            data = self._with_kbm(data)
        except GatewayError as exc:
            log.warning("КБМ look-up failed, quoting with the start class: %s", exc)
            verified = False
            start = self.tariffs.tariff_for(data.start_date).kbm_start_class
            data = data.with_kbm(
                [d.kbm_class or start for d in data.drivers] if data.drivers else None, data.owner_kbm_class or start
            )
        quote = self.tariffs.quote(data.quote_request())
        with self._busy, self._tx() as session:
            self._claim(session, action_id, sale_id)
            sale = self._sale(session, sale_id)
            request = quote.category
            sale.category = request
            sale.region_code = data.owner.region_code
            sale.start_date = data.start_date.isoformat()
            sale.period_months = data.period_months
            sale.amount = quote.premium
            sale.tariff_version = quote.tariff_version
            summary = quote_to_json(quote)
            summary["kbm_verified"] = verified
            sale.quote = summary
            if sale.personal is None:
                sale.personal = PersonalData(sale_id=sale.id)
            sale.personal.ciphertext = self.cipher.encrypt(data.to_dict())
            self._move(session, sale, S.QUOTED, f"{sale_id}:quote:{action_id}", premium=str(quote.premium))
        classes = tuple(d.kbm_class or "" for d in data.drivers) if data.drivers else (data.owner_kbm_class or "",)
        return QuoteView(sale_id, quote, verified, classes)

    def _with_kbm(self, data: SaleInput) -> SaleInput:
        if data.drivers is not None:
            queries = [KbmQuery(d.licence_document, d.last_name, d.birth_date) for d in data.drivers]
            answers = self.insurer.kbm_lookup(queries, data.start_date)
            return data.with_kbm([a.kbm_class for a in answers], None)
        owner = data.owner
        answer = self.insurer.kbm_lookup(
            [KbmQuery((owner.passport or "").replace(" ", ""), owner.last_name, owner.birth_date)], data.start_date
        )[0]
        return data.with_kbm(None, answer.kbm_class)

    def consent(self, sale_id: str, documents: dict[str, str], *, action_id: str) -> None:
        """Record the customer's consents (document name → version) with the time they were given."""
        required = {"personal_data", "policy_terms"}
        if not required <= documents.keys():
            raise SaleError("Нужно согласие на обработку персональных данных и с условиями страхования")
        with self._busy, self._tx() as session:
            self._claim(session, action_id, sale_id)
            sale = self._sale(session, sale_id)
            sale.consent = {
                "documents": documents,
                "given_at": self.clock().isoformat(),
                "kiosk_id": self.config.kiosk_id,
            }
            self._move(session, sale, S.CONSENTED, f"{sale_id}:consent:{action_id}")

    def preflight(self, sale_id: str) -> Preflight:
        """Before any money moves: free disk space and a journal that records, printer ready with paper,
        terminal ready, insurer reachable."""
        problems: list[tuple[str, str]] = []
        storage = self._storage_problem()
        if storage is not None:
            problems.append(storage)
        printer_status = self.printer.status()
        if not printer_status.ready:
            problems.append(("printer", printer_status.summary()))  # "Принтер не готов: нет бумаги; …"
        terminal_status = self.terminal.status()
        if not terminal_status.ready:
            problems.append(("terminal", "Терминал оплаты не готов: " + terminal_status.reason_ru))
        insurer_ok = self.insurer.available()
        if not insurer_ok:
            problems.append(("insurer", "Нет связи со страховой компанией"))
        try:
            with self._busy, self._tx() as session:
                sale = self._sale(session, sale_id)
                verified = bool(sale.quote and sale.quote.get("kbm_verified"))
                if not verified and insurer_ok:
                    problems.append(("insurer", "КБМ не подтверждён страховщиком"))
                ready = not problems
                if ready and S(sale.state) in (S.CONSENTED, S.READY_TO_PAY, S.PAYMENT_DECLINED):
                    self._move(session, sale, S.READY_TO_PAY, f"{sale_id}:ready:{uuid.uuid4()}")
        except JournalWriteError as exc:
            log.error("sale %s: the journal failed at preflight, no money moved: %s", sale_id, exc)
            problems.append(("journal", "Журнал продаж не записывает: продажа невозможна"))
            ready = False
        # The application path needs only paper for the letter (and a journal that records); no money moves on it.
        can_apply = not ready and printer_status.ready and not any(key in ("disk", "journal") for key, _ in problems)
        if problems:
            log.warning("sale %s not ready to pay, no money moved: %s", sale_id, "; ".join(t for _, t in problems))
        return Preflight(ready, can_apply, tuple(problems))

    def _storage_problem(self) -> tuple[str, str] | None:
        """Too little free space for the journal, or outcomes it still could not record."""
        if self.unrecorded and not self.record_unrecorded():
            return ("journal", "Журнал продаж не записывает: продажа невозможна")
        data_dir = self.config.data_dir
        if data_dir is None:
            return None
        try:
            free = int(self._disk_usage(data_dir).free)
        except OSError as exc:
            log.error("free space of %s unknown: %s", data_dir, exc)
            return ("disk", "Диск киоска недоступен: продажа невозможна")
        if free < self.config.min_free_bytes:
            log.error("only %d bytes free in %s (minimum %d): no sale", free, data_dir, self.config.min_free_bytes)
            return ("disk", "На диске киоска мало места: продажа невозможна")
        return None

    def abandon(self, sale_id: str, reason: str) -> None:
        """The customer left or cancelled before paying (idle timeout, "Отмена")."""
        try:
            with self._busy, self._tx() as session:
                sale = self._sale(session, sale_id)
                if S(sale.state) in FINAL:
                    return
                self._move(session, sale, S.ABANDONED, f"{sale_id}:abandon", reason=reason)
                self._emit(session, "sale.abandoned", sale, {"state_before": sale.state, "reason": reason})
        except JournalWriteError as exc:
            # No money has moved; recovery ends the sale at the next start.
            log.error("sale %s abandoned (%s), no money moved; the journal did not record it: %s", sale_id, reason, exc)
            return
        log.info("sale %s abandoned before payment (%s), no money moved", sale_id, reason)

    # ------------------------------------------------------------------------------------------
    # payment and issue

    def pay(self, sale_id: str, *, action_id: str, on_status: StatusCallback | None = None) -> SaleOutcome:
        """Take the payment, register and print the policy, then commit the payment.

        If the journal fails before the commit point the goods are refused (the terminal reverses the
        payment); if it fails after, the write is retried and, failing that, the outcome is kept in the
        sidecar for recovery and the kiosk stops selling — never a crash with the money taken.
        """
        with self._busy:
            try:
                with self._tx() as session:
                    self._claim(session, action_id, sale_id)
                    sale = self._sale(session, sale_id)
                    if S(sale.state) not in PAYMENT_STATES:
                        raise SaleError("Оплата сейчас невозможна: сначала проверка готовности киоска")
                    if sale.amount is None:
                        raise SaleError("Нет рассчитанной премии")
                    amount = sale.amount
                    attempt_no = len(sale.payments) + 1
                    key = f"{sale_id}:pay:{attempt_no}"
                    session.add(
                        PaymentAttempt(
                            sale_id=sale_id,
                            attempt=attempt_no,
                            key=key,
                            status="started",
                            amount=amount,
                            started_at=self.clock(),
                        )
                    )
                    self._move(session, sale, S.PAYMENT_STARTED, key, amount=str(amount))
            except JournalWriteError as exc:
                log.error("sale %s: the journal failed before the payment, no money moved: %s", sale_id, exc)
                raise JournalFailedError(
                    "Киоск не может записать покупку. Оплата не начиналась — деньги не списаны."
                ) from None
            self._checkpoint("payment_started")
            auth = self.terminal.authorise(amount, on_status=on_status)
            self._checkpoint("authorised_by_terminal")
            if not auth.approved:
                return self._not_authorised(sale_id, attempt_no, auth)
            try:
                with self._tx() as session:
                    sale = self._sale(session, sale_id)
                    attempt = sale.payments[-1]
                    _record_terminal(attempt, auth, "approved", self.clock())
                    self._move(session, sale, S.AUTHORISED, f"{sale_id}:authorised:{attempt_no}")
                    self._emit(session, "payment.authorised", sale, _payment_payload(attempt))
            except JournalWriteError as exc:
                return self._journal_failed(sale_id, auth, exc, "authorised")
            return self._issue(sale_id, auth)

    def _not_authorised(self, sale_id: str, attempt_no: int, auth: TransactionResult) -> SaleOutcome:
        """Declined, cancelled, unreadable card, or no verdict at all.

        No settling is needed here: in the issue-of-goods dialogue an authorisation the kiosk never
        confirms is reversed by the terminal itself, so a lost verdict cannot have charged the card.
        """
        lost = auth.fate in (Fate.UNKNOWN, Fate.PENDING)
        money = (
            "Деньги не списаны: если сумма была заблокирована, банк снимет блокировку автоматически."
            if lost
            else "Деньги не списаны."
        )
        message = f"Оплата не прошла: {auth.result_text}."

        def write() -> SaleOutcome:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                attempt = sale.payments[-1]
                _record_terminal(attempt, auth, "unknown" if lost else "declined", self.clock())
                self._move(
                    session, sale, S.PAYMENT_DECLINED, f"{sale_id}:declined:{attempt_no}", outcome=auth.outcome.value
                )
                self._emit(session, "payment.declined", sale, _payment_payload(attempt))
                return _describe(sale, message, money, terminal_text=auth.result_text)

        return self._after_money(
            sale_id,
            write,
            self._note(sale_id, S.PAYMENT_DECLINED, "none", auth),
            lambda: SaleOutcome(sale_id, S.PAYMENT_DECLINED, message, money, terminal_text=auth.result_text),
        )

    def _journal_failed(
        self,
        sale_id: str,
        auth: Authorisation,
        exc: JournalWriteError,
        step: str,
        policy: tuple[str, str] | None = None,
    ) -> SaleOutcome:
        """A journal write before the commit point failed: the goods are refused, so the terminal reverses."""
        log.error(
            "sale %s: the journal failed after the authorisation (%s), refusing the goods: %s", sale_id, step, exc
        )
        return self._refuse(sale_id, auth, "журнал киоска не записал покупку", policy=policy)

    def _issue(self, sale_id: str, auth: Authorisation) -> SaleOutcome:
        try:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                data = self._input(sale)
                self._move(session, sale, S.REGISTERING, f"{sale_id}:register")
        except JournalWriteError as exc:
            return self._journal_failed(sale_id, auth, exc, "registering")
        self._checkpoint("registering")
        try:
            registered = self.insurer.register_policy(self._contract(sale, data), idempotency_key=f"{sale_id}:register")
        except Exception as exc:  # any failure after the authorisation refuses the goods (the terminal reverses)
            log.warning("registration failed for sale %s: %s", sale_id, exc)
            return self._refuse(sale_id, auth, "страховщик не зарегистрировал полис")
        self._checkpoint("registered_by_insurer")
        policy = (registered.series, registered.number)
        try:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                start, end = self._record_policy(session, sale_id, registered, data)
                self._move(
                    session,
                    sale,
                    S.REGISTERED,
                    f"{sale_id}:registered",
                    policy=f"{registered.series} {registered.number}",
                )
                self._emit(
                    session,
                    "policy.registered",
                    sale,
                    {
                        **self._policy_payload(sale, registered.series, registered.number),
                        "period_start": start.isoformat(),
                        "period_end": end.isoformat(),
                    },
                    personal=self._personal_for_server(data),
                )
                document = self.config.paper.policy(
                    data=data,
                    series=registered.series,
                    number=registered.number,
                    concluded_at=self.clock(),
                    premium=sale.amount or Decimal(0),
                    quote=sale.quote or {},
                )
        except JournalWriteError as exc:
            return self._journal_failed(sale_id, auth, exc, "registered", policy)
        try:
            printed = self._print(sale_id, "policy", document, intent=S.PRINTING, done=S.PRINTED)
        except JournalWriteError as exc:
            return self._journal_failed(sale_id, auth, exc, "printing", policy)
        if not printed:
            return self._refuse(sale_id, auth, "полис не напечатан", policy=policy)
        return self._confirm(sale_id, auth, policy)

    def _confirm(self, sale_id: str, auth: Authorisation, policy: tuple[str, str]) -> SaleOutcome:
        """The commit point: confirm the goods (ZVT 80 00 00); the terminal's completion decides."""
        try:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                self._move(session, sale, S.CONFIRMING, f"{sale_id}:confirm")
        except JournalWriteError as exc:
            return self._journal_failed(sale_id, auth, exc, "confirming", policy)
        self._checkpoint("confirming")
        completion = self.terminal.confirm_goods(auth)
        self._checkpoint("confirmed_by_terminal")
        fate = completion.fate
        if fate not in (Fate.COMMITTED, Fate.REVERSED):
            fate = self._settle(completion, auth.trace).fate
        if fate is Fate.COMMITTED:
            outcome = self._complete(sale_id, completion, auth, " ".join(policy))
            self._print_after_sale(sale_id, outcome.policy)
            return outcome
        if fate is Fate.REVERSED:
            return self._reversed(sale_id, completion, "терминал отменил платёж при подтверждении", auth, policy)
        return self._flag_sale(sale_id, "терминал не подтвердил исход оплаты", auth)

    def _record_policy(
        self, session: Session, sale_id: str, registered: RegisteredPolicy, data: SaleInput
    ) -> tuple[dt.datetime, dt.datetime]:
        """Journal the policy the insurer issued for a sale; returns its period of cover."""
        start, end = policy_period(data.start_date, self.config.zone)
        session.add(
            PolicyRecord(
                sale_id=sale_id,
                key=f"{sale_id}:register",
                series=registered.series,
                number=registered.number,
                status="registered",
                period_start=start,
                period_end=end,
                registered_at=registered.registered_at,
            )
        )
        return start, end

    def _print(
        self, sale_id: str, kind: str, document: Document, *, intent: SaleState | None, done: SaleState | None
    ) -> bool:
        """Print one document, journaled before and after; True when it is in the customer's hands."""
        with self._tx() as session:
            sale = self._sale(session, sale_id)
            count = sum(1 for job in sale.print_jobs if job.kind == kind) + 1
            job = PrintJob(
                sale_id=sale_id,
                kind=kind,
                key=f"{sale_id}:print:{kind}:{count}",
                status="started",
                started_at=self.clock(),
            )
            session.add(job)
            if intent is not None:
                self._move(session, sale, intent, job.key)
        self._checkpoint(f"printing_{kind}")
        error: str | None = None
        sent: int | None = None
        try:
            result = self.printer.print_document(document)
        except PrinterError as exc:
            ok, error = False, str(exc)
        else:
            ok, sent = result.ok, result.bytes_sent
            if not ok:
                error = result.error or (result.after.summary() if result.after else "принтер не ответил")
        self._checkpoint(f"printed_{kind}")
        with self._tx() as session:
            sale = self._sale(session, sale_id)
            job = sale.print_jobs[-1]
            job.status = "printed" if ok else "failed"
            job.error = error
            job.bytes_sent = sent
            job.finished_at = self.clock()
            if ok and done is not None:
                self._move(session, sale, done, f"{job.key}:done")
            self._emit(
                session,
                "print.printed" if ok else "print.failed",
                sale,
                {"kind": kind, "job": job.key, "error": job.error},
            )
        return ok

    def _print_after_sale(self, sale_id: str, policy: str | None) -> None:
        """The claims memo goes with every policy; a failure here does not touch the completed sale."""
        try:
            self._print(sale_id, "memo", self.config.paper.memo(policy), intent=None, done=None)
        except JournalWriteError as exc:
            log.error("memo not printed for sale %s: the journal failed: %s", sale_id, exc)
        except Exception:  # the sale is complete; the memo is a courtesy
            log.exception("memo not printed for sale %s", sale_id)

    def _refuse(
        self, sale_id: str, auth: Authorisation, reason: str, *, policy: tuple[str, str] | None = None
    ) -> SaleOutcome:
        """The goods cannot be delivered: tell the terminal, which reverses the payment itself.

        The refusal goes to the terminal even when the journal cannot record the intent: refusing is
        what keeps the money safe, and recovery reads the terminal's answer if the kiosk dies meanwhile.
        """
        try:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                if S.REFUSING in TRANSITIONS[S(sale.state)]:
                    self._move(session, sale, S.REFUSING, f"{sale_id}:refuse", reason=reason)
        except JournalWriteError as exc:
            log.error("sale %s: the journal did not record the refusal; refusing the goods anyway: %s", sale_id, exc)
        self._checkpoint("refusing")
        completion = self.terminal.refuse_goods(auth, REFUSE_CODE)
        self._checkpoint("refused_by_terminal")
        fate = completion.fate
        if fate not in (Fate.COMMITTED, Fate.REVERSED):
            fate = self._settle(completion, auth.trace).fate
        if fate is Fate.REVERSED:
            return self._reversed(sale_id, completion, reason, auth, policy)
        return self._flag_sale(sale_id, f"{reason}; терминал не подтвердил отмену платежа", auth)

    def _settle(self, result: TransactionResult, trace: str | None) -> TransactionResult:
        """Ask the terminal what became of a transaction whose final answer was lost, until it is decided.

        The last transaction the terminal remembers is ours only if its trace is ours; otherwise the
        lost command never reached it and ``result`` stands.
        """
        last: TransactionResult = result
        for attempt in range(self.config.settle_attempts):
            try:
                last = self.terminal.repeat_receipt()
            except Exception as exc:  # the line may still be down: try again after a pause
                log.warning("repeat receipt failed (%s/%s): %s", attempt + 1, self.config.settle_attempts, exc)
            else:
                if trace is None or not same_transaction(last, trace):
                    return result
                if last.fate in (Fate.COMMITTED, Fate.REVERSED, Fate.DECLINED):
                    return last
            self._sleep(self.config.settle_pause)
        return last

    # ------------------------------------------------------------------------------------------
    # after the money moved: the journal must record it, or the sidecar keeps it for recovery

    def _after_money(
        self, sale_id: str, write: Callable[[], SaleOutcome], note: Note, fallback: Callable[[], SaleOutcome]
    ) -> SaleOutcome:
        """Record what the terminal did, retrying with pauses; if the journal stays unwritable, keep
        ``note`` (memory and sidecar), log the sale as flagged with its money, and return ``fallback()``."""
        attempts = max(1, self.config.write_attempts)
        for attempt in range(attempts):
            try:
                outcome = write()
            except JournalWriteError as exc:
                log.error("sale %s: journal write after the money moved failed (%d/%d): %s",
                          sale_id, attempt + 1, attempts, exc)  # fmt: skip
                if attempt + 1 < attempts:
                    self._sleep(self.config.write_pause * 2**attempt)
            else:
                _log_end(outcome)
                return outcome
        self._keep(note, write)
        outcome = fallback()
        log.error("sale %s FLAGGED: ended %s (receipt %s) but the journal cannot record it; %s. %s",
                  sale_id, outcome.state.value, outcome.receipt_no, _NOTE_MONEY[note.money], outcome.money)  # fmt: skip
        return outcome

    def _note(self, sale_id: str, state: SaleState, money: str, result: TransactionResult | None) -> Note:
        return Note(
            sale_id=sale_id,
            state=state.value,
            money=money,
            amount=str(result.amount) if result is not None and result.amount is not None else None,
            trace=(result.original_trace or result.trace) if result is not None else None,
            receipt_no=result.receipt_no if result is not None else None,
            at=self.clock().isoformat(timespec="seconds"),
        )

    def _keep(self, note: Note, write: Callable[[], SaleOutcome]) -> None:
        self._pending[note.sale_id] = (note, write)
        sidecar = self.journal.sidecar
        if sidecar is None:
            return
        try:
            sidecar.add_note(note)
        except (OSError, SidecarError, ValueError) as exc:
            log.error("sale %s: the outcome is not in the sidecar either (%s): %s", note.sale_id, exc, note.to_dict())

    @property
    def unrecorded(self) -> list[Note]:
        """Outcomes of sales the journal could not record yet (the kiosk does not sell meanwhile)."""
        return [note for note, _ in self._pending.values()]

    def record_unrecorded(self) -> bool:
        """Try again to journal the outcomes kept after a failed write; True when none is left."""
        done: set[str] = set()
        for sale_id, (_note, write) in list(self._pending.items()):
            try:
                outcome = write()
            except JournalWriteError as exc:
                log.warning("sale %s: the journal still cannot record its outcome: %s", sale_id, exc)
                continue
            log.warning("sale %s: outcome recorded in the journal after the write failure (%s)",
                        sale_id, outcome.state.value)  # fmt: skip
            done.add(sale_id)
            del self._pending[sale_id]
        if done and self.journal.sidecar is not None:
            try:
                self.journal.sidecar.drop_notes(done)
            except (OSError, SidecarError) as exc:
                log.warning("sidecar notes of %s not dropped: %s", ", ".join(sorted(done)), exc)
        return not self._pending

    def _complete(
        self,
        sale_id: str,
        completion: TransactionResult,
        auth: TransactionResult | None = None,
        policy: str | None = None,
    ) -> SaleOutcome:
        """The terminal committed the payment (the commit point): the sale is complete."""

        def write() -> SaleOutcome:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                attempt = sale.payments[-1]
                attempt.status = "committed"
                attempt.finished_at = self.clock()
                attempt.receipt_lines = list(completion.receipt_lines) or attempt.receipt_lines
                self._move(session, sale, S.COMPLETED, f"{sale_id}:completed")
                self._emit(session, "payment.committed", sale, _payment_payload(attempt))
                self._emit(session, "sale.completed", sale, self._sale_payload(sale))
                number = f"{sale.policy.series} {sale.policy.number}" if sale.policy else None
                return _describe(sale, "Полис оформлен. Возьмите полис и памятку.", "Оплата прошла.", policy=number)

        source = auth or completion
        return self._after_money(
            sale_id,
            write,
            self._note(sale_id, S.COMPLETED, "committed", source),
            lambda: SaleOutcome(
                sale_id,
                S.COMPLETED,
                "Полис оформлен. Возьмите полис и памятку.",
                "Оплата прошла.",
                policy=policy,
                receipt_no=source.receipt_no,
                details={"unrecorded": True},
            ),
        )

    def _reversed(
        self,
        sale_id: str,
        completion: TransactionResult,
        reason: str,
        auth: TransactionResult | None = None,
        policy: tuple[str, str] | None = None,
    ) -> SaleOutcome:
        """The payment is reversed: annul a registered policy, void a printed copy, tell the customer."""
        message = f"Полис не оформлен: {reason}."
        money = "Платёж отменён: деньги не списаны, блокировка суммы на карте снята."
        cancel: list[tuple[str, str, str]] = []

        def write() -> SaleOutcome:
            cancel.clear()
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                attempt = sale.payments[-1]
                if auth is not None and attempt.trace is None:
                    _record_terminal(attempt, auth, "reversed", self.clock())
                attempt.status = "reversed"
                attempt.finished_at = self.clock()
                self._move(session, sale, S.REVERSED, f"{sale_id}:reversed", reason=reason)
                self._emit(session, "payment.reversed", sale, {**_payment_payload(attempt), "reason": reason})
                to_cancel = self._void_paper_and_policy(session, sale)
                if to_cancel is not None:
                    cancel.append(to_cancel)
                elif policy is not None and sale.policy is None:
                    # Registered, but the journal never recorded the policy: annul it by its number.
                    cancel.append((sale_id, *policy))
                return _describe(sale, message, money)

        source = auth or completion
        outcome = self._after_money(
            sale_id,
            write,
            self._note(sale_id, S.REVERSED, "reversed", source),
            lambda: SaleOutcome(sale_id, S.REVERSED, message, money, receipt_no=source.receipt_no),
        )
        targets = set(cancel)
        if not targets and policy is not None and sale_id in self._pending:
            targets.add((sale_id, *policy))  # the journal recorded nothing: annul the registered policy anyway
        for target in targets:
            self._cancel_policy(*target)
        return outcome

    def _void_paper_and_policy(self, session: Session, sale: SaleRecord) -> tuple[str, str, str] | None:
        """Mark printed copies spoiled and the policy for annulment (in the caller's transaction)."""
        for job in sale.print_jobs:
            # A job that failed after bytes were sent may have printed part of the policy (its number):
            # that paper is void too, and so is a copy a printer holds and prints after a roll change.
            sent = job.status == "failed" and (job.bytes_sent or 0) > 0
            if job.kind == "policy" and (job.status in ("printed", "started") or sent):
                job.status = "spoiled"
                self._emit(session, "print.spoiled", sale, {"kind": job.kind, "job": job.key})
        policy = sale.policy
        if policy is None or policy.status != "registered":
            return None
        policy.status = "cancelling"
        # The server annuls it from this event if the kiosk cannot reach the insurer now.
        self._emit(session, "policy.cancel_requested", sale, self._policy_payload(sale, policy.series, policy.number))
        return sale.id, policy.series, policy.number

    def _cancel_policy(self, sale_id: str, series: str, number: str) -> None:
        try:
            self.insurer.cancel_policy(series, number, reason="payment reversed", idempotency_key=f"{sale_id}:cancel")
        except Exception as exc:  # the money is already safe: never crash here; annulled later
            log.warning("policy %s %s not annulled now (server will do it): %s", series, number, exc)
            return
        try:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                if sale.policy is not None:
                    sale.policy.status = "cancelled"
                    sale.policy.cancelled_at = self.clock()
                    self._emit(session, "policy.cancelled", sale, self._policy_payload(sale, series, number))
        except JournalWriteError as exc:  # annulled at the insurer; the journal says "cancelling" and retries
            log.error("policy %s %s annulled, but the journal did not record it: %s", series, number, exc)

    def _flag_sale(self, sale_id: str, reason: str, auth: TransactionResult | None = None) -> SaleOutcome:
        """The devices cannot account for the money: the technician decides (journaled, or kept for recovery)."""

        def write() -> SaleOutcome:
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                attempt = sale.payments[-1] if sale.payments else None
                if auth is not None and attempt is not None and attempt.trace is None:
                    _record_terminal(attempt, auth, "unknown", self.clock())
                return self._flag(session, sale, reason)

        return self._after_money(
            sale_id,
            write,
            self._note(sale_id, S.FLAGGED, "unknown", auth),
            lambda: SaleOutcome(
                sale_id,
                S.FLAGGED,
                "Не удалось подтвердить результат оплаты.",
                "Сохраните чек терминала и позвоните страховщику: деньги будут возвращены, если полис не "
                f"выдан. Номер обращения {sale_id[:8].upper()}.",
                receipt_no=auth.receipt_no if auth is not None else None,
            ),
        )

    def _flag(self, session: Session, sale: SaleRecord, reason: str) -> SaleOutcome:
        """Flag ``sale`` in the caller's transaction (the caller logs its end once it is committed)."""
        sale.flag_reason = reason
        self._move(session, sale, S.FLAGGED, f"{sale.id}:flag:{uuid.uuid4()}", reason=reason)
        self._emit(session, "sale.flagged", sale, {"reason": reason, "amount": str(sale.amount)})
        log.error("sale %s flagged for the technician: %s", sale.id, reason)
        return _describe(
            sale,
            "Не удалось подтвердить результат оплаты.",
            "Сохраните чек терминала и позвоните страховщику: деньги будут возвращены, если полис не "
            f"выдан. Номер обращения {sale.id[:8].upper()}.",
        )

    def cancel_payment(self) -> bool:
        """The customer pressed "Отмена" while the terminal waits for the card.

        Called from the UI thread while ``pay`` runs in a worker and holds the kiosk, so it does not
        take the lock: it only asks the terminal to abort; ``pay`` then returns the terminal's verdict
        (cancelled, no money) through the normal path. True when the terminal accepted the abort.
        """
        try:
            return self.terminal.abort()
        except Exception as exc:  # the verdict still comes back through pay()
            log.warning("terminal refused the abort: %s", exc)
            return False

    def resolve_flagged(self, sale_id: str, resolution: SaleState, *, actor: str, note: str) -> SaleOutcome:
        """A technician's decision about a flagged sale, taken after checking the terminal's batch and
        the insurer: the payment went through (``completed``), was reversed (``reversed``; a registered
        policy is annulled), or no money moved (``abandoned``)."""
        if resolution not in (S.COMPLETED, S.REVERSED, S.ABANDONED):
            raise SaleError("Решение: оплачено, платёж отменён или без оплаты")
        if not note.strip():
            raise SaleError("Опишите, на чём основано решение (чек, выписка, ответ страховщика)")
        to_cancel = None
        with self._busy, self._tx() as session:
            sale = self._sale(session, sale_id)
            if S(sale.state) is not S.FLAGGED:
                raise SaleError("Эта продажа не ждёт решения техника")
            attempt = sale.payments[-1] if sale.payments else None
            if attempt is not None:
                attempt.status = {S.COMPLETED: "committed", S.REVERSED: "reversed", S.ABANDONED: "declined"}[resolution]
                attempt.finished_at = self.clock()
            self._move(session, sale, resolution, f"{sale_id}:resolved", actor=actor, note=note)
            session.add(
                JournalEntry(
                    at=self.clock(),
                    actor=actor,
                    action="resolve_flagged",
                    detail={"sale_id": sale_id, "resolution": resolution.value, "note": note},
                )
            )
            self._emit(session, "sale.resolved", sale, {"resolution": resolution.value, "actor": actor, "note": note})
            if resolution is S.COMPLETED:
                if attempt is not None:
                    self._emit(session, "payment.committed", sale, _payment_payload(attempt))
                self._emit(session, "sale.completed", sale, self._sale_payload(sale))
            elif resolution is S.REVERSED:
                if attempt is not None:
                    self._emit(session, "payment.reversed", sale, {**_payment_payload(attempt), "reason": note})
                to_cancel = self._void_paper_and_policy(session, sale)
        if to_cancel is not None:
            self._cancel_policy(*to_cancel)
        outcome = self.outcome(sale_id)
        log.warning("sale %s resolved by %s as %s: %s", sale_id, actor, outcome.state.value, outcome.money)
        return outcome

    # ------------------------------------------------------------------------------------------
    # the application path (insurer unreachable before payment)

    def apply(self, sale_id: str, *, action_id: str, office: int = 0) -> SaleOutcome:
        """File an application instead of paying: no money moves; the customer gets a letter."""
        with self._busy:
            chosen = self.config.offices[office]
            with self._tx() as session:
                self._claim(session, action_id, sale_id)
                sale = self._sale(session, sale_id)
                if S(sale.state) not in (S.CONSENTED, S.READY_TO_PAY, S.PAYMENT_DECLINED):
                    raise SaleError("Заявление можно подать после согласия с условиями")
                data = self._input(sale)
            try:
                receipt = self.insurer.submit_application(
                    sale_id, {"quote": sale.quote}, office=chosen.name, idempotency_key=f"{sale_id}:application"
                )
                number = receipt.number
            except GatewayUnavailableError:
                # The server takes the application from the outbox when it is reachable again.
                number = self._local_application_number()
            except GatewayError as exc:
                log.warning("the insurer refused the application of sale %s: %s", sale_id, exc)
                raise SaleError(
                    "Страховщик не принял заявление. Деньги не списывались. Обратитесь в офис страховщика "
                    "или по телефону горячей линии."
                ) from None
            now = self.clock()
            visit_by = (now.astimezone(self.config.zone) + dt.timedelta(days=7)).date()
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                session.add(
                    ApplicationRecord(
                        sale_id=sale_id,
                        number=number,
                        office=chosen.name,
                        visit_by=visit_by.isoformat(),
                        status="в обработке",
                        created_at=now,
                    )
                )
                if S(sale.state) is S.PAYMENT_DECLINED:
                    self._move(session, sale, S.READY_TO_PAY, f"{sale_id}:ready:{uuid.uuid4()}")
                self._move(session, sale, S.APPLICATION, f"{sale_id}:application", number=number)
                self._emit(
                    session,
                    "application.submitted",
                    sale,
                    {
                        "number": number,
                        "office": chosen.name,
                        "visit_by": visit_by.isoformat(),
                        "premium": str(sale.amount),
                        "category": sale.category,
                        "region": sale.region_code,
                    },
                    personal=self._personal_for_server(data),
                )
                letter = self.config.paper.letter(
                    data=data, number=number, created_at=now, office=chosen, premium=sale.amount or Decimal(0)
                )
            printed = self._print(sale_id, "letter", letter, intent=None, done=None)
            with self._tx() as session:
                sale = self._sale(session, sale_id)
                self._move(session, sale, S.APPLICATION_ISSUED, f"{sale_id}:application_issued", letter_printed=printed)
                message = f"Заявление № {number} принято." + (
                    "" if printed else " Письмо не напечатано — запишите номер."
                )
                return _outcome(sale, message, "Деньги не списывались.", application=number)

    def _local_application_number(self) -> str:
        """An application number the kiosk can give while the insurer is unreachable (ASCII: it goes into a QR)."""
        now = self.clock().astimezone(self.config.zone)
        with self._tx() as session:
            count = session.query(ApplicationRecord).count() + 1
        kiosk = "".join(ch for ch in self.config.kiosk_id if ch.isalnum())[-6:]
        return f"K{kiosk}-{now:%y%m%d}-{count:04d}"

    # ------------------------------------------------------------------------------------------
    # payloads

    def _contract(self, sale: SaleRecord, data: SaleInput) -> PolicyContract:
        start, end = policy_period(data.start_date, self.config.zone)
        quote = sale.quote or {}
        return PolicyContract(
            sale_id=sale.id,
            kiosk_id=self.config.kiosk_id,
            period_start=start,
            period_end=end,
            premium=sale.amount or Decimal(0),
            tariff_version=sale.tariff_version or "",
            coefficients=dict(quote.get("coefficients", {})),
            vehicle=data.vehicle.to_dict(),
            policyholder=data.holder.to_dict(),
            owner=data.owner.to_dict(),
            drivers=[d.to_dict() for d in data.drivers] if data.drivers is not None else None,
            # What a renewal needs to price the same contract a year later.
            extra={"period_months": data.period_months, "owner_kbm_class": data.owner_kbm_class},
        )

    def _policy_payload(self, sale: SaleRecord, series: str, number: str) -> dict[str, Any]:
        return {
            "series": series,
            "number": number,
            "premium": str(sale.amount),
            "category": sale.category,
            "region": sale.region_code,
            "tariff_version": sale.tariff_version,
        }

    def _sale_payload(self, sale: SaleRecord) -> dict[str, Any]:
        attempt = sale.payments[-1] if sale.payments else None
        policy = sale.policy
        return {
            "amount": str(sale.amount),
            "category": sale.category,
            "region": sale.region_code,
            "start_date": sale.start_date,
            "period_months": sale.period_months,
            "tariff_version": sale.tariff_version,
            "coefficients": (sale.quote or {}).get("coefficients"),
            "policy": f"{policy.series} {policy.number}" if policy else None,
            "period_end": policy.period_end.isoformat() if policy else None,
            "receipt_no": attempt.receipt_no if attempt else None,
            "trace": attempt.trace if attempt else None,
        }

    def _personal_for_server(self, data: SaleInput) -> dict[str, Any]:
        """What the insurer needs to hold of the customer (sealed in the outbox, sent over TLS)."""
        holder = data.holder
        return {
            "policyholder": holder.to_dict(),
            "owner": data.owner.to_dict(),
            "vehicle": data.vehicle.to_dict(),
            "drivers": [d.to_dict() for d in data.drivers] if data.drivers is not None else None,
        }

    # ------------------------------------------------------------------------------------------
    # reading

    def outcome(self, sale_id: str) -> SaleOutcome:
        """The sale's current state, told as an outcome."""
        with self.journal.session() as session:
            sale = self._sale(session, sale_id)
            return _describe(sale, _STATE_TEXT.get(S(sale.state), ""), _MONEY_TEXT.get(S(sale.state), ""))


_STATE_TEXT = {
    S.COMPLETED: "Полис оформлен.",
    S.REVERSED: "Полис не оформлен.",
    S.APPLICATION_ISSUED: "Заявление принято.",
    S.ABANDONED: "Покупка отменена.",
    S.FLAGGED: "Требуется проверка оператором.",
}
_MONEY_TEXT = {
    S.COMPLETED: "Оплата прошла.",
    S.REVERSED: "Платёж отменён: деньги не списаны.",
    S.APPLICATION_ISSUED: "Деньги не списывались.",
    S.ABANDONED: "Деньги не списывались.",
    S.PAYMENT_DECLINED: "Деньги не списаны.",
}


#: what a note kept after a failed journal write says about the money, for the log
_NOTE_MONEY = {
    "committed": "the money is committed at the terminal and the policy was issued",
    "reversed": "the terminal reversed the payment: no money taken",
    "none": "no money was taken",
    "unknown": "the terminal did not say what became of the money",
}


def _log_end(outcome: SaleOutcome) -> None:
    """The one log line of a sale's end, with what happened to the money (no personal data)."""
    level = logging.INFO if outcome.state in (S.COMPLETED, S.APPLICATION_ISSUED) else logging.WARNING
    log.log(level, "sale %s ended %s (receipt %s): %s", outcome.sale_id, outcome.state.value, outcome.receipt_no,
            outcome.money)  # fmt: skip


def _outcome(sale: SaleRecord, message: str, money: str, **extra: Any) -> SaleOutcome:
    """How a sale verb ended, logged once with what happened to the money (no personal data)."""
    outcome = _describe(sale, message, money, **extra)
    _log_end(outcome)
    return outcome


def _describe(sale: SaleRecord, message: str, money: str, **extra: Any) -> SaleOutcome:
    attempt = sale.payments[-1] if sale.payments else None
    policy = sale.policy
    return SaleOutcome(
        sale_id=sale.id,
        state=S(sale.state),
        message=message,
        money=money,
        policy=extra.pop("policy", None) or (f"{policy.series} {policy.number}" if policy else None),
        receipt_no=attempt.receipt_no if attempt else None,
        application=extra.pop("application", None) or (sale.application.number if sale.application else None),
        **extra,
    )


def same_transaction(result: TransactionResult, trace: str) -> bool:
    """Whether the terminal's answer is about the payment with ``trace`` (a reversal carries the
    original trace in BMP 37, its own trace being the reversal's)."""
    return trace in (result.trace, result.original_trace)


def _record_terminal(attempt: PaymentAttempt, result: TransactionResult, status: str, now: dt.datetime) -> None:
    """Copy what the terminal reported onto the attempt (masked PAN only, by the driver's contract)."""
    attempt.status = status
    attempt.outcome = result.outcome.value
    attempt.result_code = None if result.result_code is None else f"{result.result_code:02X}"
    attempt.result_text = result.result_text
    attempt.receipt_no = result.receipt_no or attempt.receipt_no
    attempt.trace = result.trace or attempt.trace
    attempt.masked_pan = result.masked_pan or attempt.masked_pan
    attempt.auth_code = result.auth_code or attempt.auth_code
    attempt.terminal_id = result.terminal_id or attempt.terminal_id
    attempt.card_type = result.card_type or attempt.card_type
    attempt.terminal_time = result.timestamp.astimezone(dt.UTC) if result.timestamp else attempt.terminal_time
    attempt.receipt_lines = list(result.receipt_lines) or attempt.receipt_lines
    if status != "approved":
        attempt.finished_at = now


def _payment_payload(attempt: PaymentAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "status": attempt.status,
        "amount": str(attempt.amount),
        "outcome": attempt.outcome,
        "result_code": attempt.result_code,
        "receipt_no": attempt.receipt_no,
        "trace": attempt.trace,
        "masked_pan": attempt.masked_pan,
        "auth_code": attempt.auth_code,
        "terminal_id": attempt.terminal_id,
        "card_type": attempt.card_type,
    }
