"""One customer's way through the sale: the data steps, the quote, consent, payment, the outcome.

``SaleFlow`` holds everything the customer typed (so an idle reset can forget it in one call) and
calls the kiosk's ``SaleService``. Its service calls block — the view runs ``price``, ``preflight``,
``pay`` and ``apply`` in a worker thread and shows progress meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from kiosk.documents.policy import check_url
from kiosk.money import ru_number, rub
from kiosk.sale.model import SaleInput
from kiosk.sale.service import Preflight, QuoteView, SaleError, SaleOutcome
from kiosk.sale.states import SaleState
from kiosk.tariffs import Tariff, TariffEngine
from kiosk.validation import FieldError
from ui.presenters.steps import DriversStep, OwnerStep, PeriodStep, VehicleStep

#: Called with each text the terminal shows the customer (from the payment worker's thread).
StatusCallback = Callable[[str], None]

__all__ = [
    "DATA_STEPS",
    "STEPS",
    "Consent",
    "ErrorKind",
    "OutcomeView",
    "QuoteLines",
    "SaleFlow",
    "SalePort",
    "step_of_field",
]

#: The steps the indicator shows, in order (their screens have the same names).
STEPS: tuple[tuple[str, str], ...] = (
    ("vehicle", "Автомобиль"),
    ("owner", "Владелец"),
    ("drivers", "Водители"),
    ("period", "Срок"),
    ("quote", "Расчёт"),
    ("consent", "Согласие"),
    ("payment", "Оплата"),
    ("done", "Полис"),
)
DATA_STEPS = ("vehicle", "owner", "drivers", "period")


class SalePort(Protocol):
    """What the touchscreen uses of ``kiosk.sale.service.SaleService``."""

    tariffs: TariffEngine

    def start_sale(self, *, action_id: str) -> str: ...
    def enter(self, sale_id: str, data: SaleInput, *, action_id: str) -> QuoteView: ...
    def consent(self, sale_id: str, documents: dict[str, str], *, action_id: str) -> None: ...
    def preflight(self, sale_id: str) -> Preflight: ...
    def pay(self, sale_id: str, *, action_id: str, on_status: StatusCallback | None = None) -> SaleOutcome: ...
    def cancel_payment(self) -> bool: ...
    def apply(self, sale_id: str, *, action_id: str, office: int = 0) -> SaleOutcome: ...
    def abandon(self, sale_id: str, reason: str) -> None: ...
    def outcome(self, sale_id: str) -> SaleOutcome: ...


def step_of_field(field: str) -> str:
    """Which data step owns a field path from a FieldError (the quote contract's paths included)."""
    head = field.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
    return {
        "vehicle": "vehicle",
        "owner": "owner",
        "holder": "owner",
        "territory": "owner",
        "owner_kbm_class": "owner",
        "drivers": "drivers",
        "driver": "drivers",
        "period": "period",
        "period_months": "period",
        "date": "period",
    }.get(head, "vehicle")


@dataclass(frozen=True)
class Consent:
    """A document the customer agrees to: its own text and version (recorded with the sale)."""

    key: str
    title: str
    version: str
    text: str
    required: bool = True
    agree: str = "Согласен(на)"


@dataclass(frozen=True)
class QuoteLines:
    """The quote screen: the premium and one plain line per coefficient, KBM per driver."""

    premium: str
    lines: tuple[str, ...]
    drivers: tuple[str, ...]
    note: str


class ErrorKind(enum.StrEnum):
    """Which error screen tells the customer what happened."""

    DECLINED = "declined"  # the bank or the customer said no at the terminal
    PRINTER = "printer"  # the printer cannot print (before or after payment)
    SERVER = "server"  # the insurer could not register / is unreachable
    KIOSK = "kiosk"  # anything else


@dataclass(frozen=True)
class OutcomeView:
    """Where the sale ended, for the done / application / error screens."""

    screen: str  # "done", "application_done" or "error"
    kind: ErrorKind | None
    title: str
    message: str
    money: str
    policy: str | None = None
    application: str | None = None
    retry: bool = False  # another card may be tried (the sale is still open)


class SaleFlow:
    """Everything one customer entered, and the sale verbs in the order of the screens."""

    def __init__(
        self,
        service: SalePort,
        *,
        today: Callable[[], dt.date],
        earliest_start_days: int,
        consents: Sequence[Consent],
        offices: Sequence[str],
        check_url: str,
    ) -> None:
        self.service = service
        self._today = today
        self.earliest_start_days = earliest_start_days
        self.consents = tuple(consents)
        self.offices = tuple(offices)
        self.check_url = check_url.rstrip("/")
        self.vehicle = VehicleStep(today)
        self.owner = OwnerStep(self._tariff)
        self.drivers = DriversStep()
        self.period = PeriodStep(self.earliest, sorted(self._tariff().ks_months))
        self.sale_id: str | None = None
        self.quote: QuoteView | None = None
        self.agreed: dict[str, bool] = {}
        self.preflight_result: Preflight | None = None
        self.outcome: SaleOutcome | None = None
        self.terminal_texts: list[str] = []

    def earliest(self) -> dt.date:
        """The earliest contract start the sale rule allows."""
        return self._today() + dt.timedelta(days=self.earliest_start_days)

    def _tariff(self) -> Tariff:
        return self.service.tariffs.tariff_for(self.earliest())

    # -- the customer starts ----------------------------------------------------------------------
    def begin(self) -> str:
        """A customer pressed "Начать": a fresh sale with empty forms."""
        self.reset()
        self.sale_id = self.service.start_sale(action_id=_action())
        return self.sale_id

    def sale_input(self) -> SaleInput:
        """Every step's form as the sale's input (FieldError names the field, so the step is known)."""
        vehicle = self.vehicle.entry()
        owner, holder = self.owner.people()
        start, months = self.period.values()
        drivers = self.drivers.entries(start)
        return SaleInput(
            vehicle=vehicle, owner=owner, policyholder=holder, drivers=drivers, start_date=start, period_months=months
        )

    # -- blocking service calls (worker thread) -----------------------------------------------------
    def price(self) -> QuoteLines:
        """Send the data for pricing (with the insurer's КБМ look-up); FieldError for bad data."""
        if self.sale_id is None:
            raise SaleError("Покупка не начата")
        data = self.sale_input()
        self.quote = self.service.enter(self.sale_id, data, action_id=_action())
        self.agreed = {}
        return self.quote_lines()

    def give_consent(self) -> None:
        """Record the documents agreed to (with their versions)."""
        missing = [c.title for c in self.consents if c.required and not self.agreed.get(c.key)]
        if missing:
            raise SaleError("Отметьте согласие: " + "; ".join(missing))
        assert self.sale_id is not None
        versions = {c.key: c.version for c in self.consents if self.agreed.get(c.key)}
        self.service.consent(self.sale_id, versions, action_id=_action())

    def check_ready(self) -> Preflight:
        """Before money moves: devices and insurer ready."""
        assert self.sale_id is not None
        self.preflight_result = self.service.preflight(self.sale_id)
        return self.preflight_result

    def pay(self, on_status: StatusCallback) -> OutcomeView:
        """Pay, register, print, commit. ``on_status`` gets the terminal's texts (from this thread)."""
        assert self.sale_id is not None
        self.terminal_texts = []
        self.outcome = self.service.pay(self.sale_id, action_id=_action(), on_status=on_status)
        return self.outcome_view(self.outcome)

    def cancel_payment(self) -> bool:
        """The customer pressed "Отмена" on the payment screen (UI thread)."""
        return self.service.cancel_payment()

    def progress(self) -> SaleState | None:
        """Where the sale is now (read from the journal while ``pay`` runs in its worker)."""
        if self.sale_id is None:
            return None
        return self.service.outcome(self.sale_id).state

    def apply(self, office: int) -> OutcomeView:
        """File an application instead of paying."""
        assert self.sale_id is not None
        self.outcome = self.service.apply(self.sale_id, action_id=_action(), office=office)
        return self.outcome_view(self.outcome)

    def abandon(self, reason: str) -> None:
        """The customer left or cancelled before paying; the sale ends (no money moved)."""
        if self.sale_id is not None:
            with contextlib.suppress(SaleError):
                self.service.abandon(self.sale_id, reason)

    def reset(self) -> None:
        """Forget everything the customer entered (idle, done, cancel)."""
        self.vehicle.wipe()
        self.owner.wipe()
        self.drivers.wipe()
        self.period.wipe()
        self.sale_id = None
        self.quote = None
        self.agreed = {}
        self.preflight_result = None
        self.outcome = None
        self.terminal_texts = []

    # -- texts -------------------------------------------------------------------------------------------
    def quote_lines(self) -> QuoteLines:
        """The premium and why: one line per applied coefficient, the КБМ of each driver."""
        assert self.quote is not None
        quote = self.quote.quote
        lines = [f.describe() for f in quote.factors if f.applied]
        if quote.capped:
            lines.append(f"Премия ограничена предельным размером {rub(quote.cap)}")
        tariff = self.service.tariffs.tariff_for(quote.tariff_from)
        people = self._people_for_kbm()
        drivers = []
        for name, kbm_class in zip(people, self.quote.kbm_classes, strict=False):
            row = tariff.kbm.get(kbm_class)
            value = ru_number(row.value) if row is not None and row.value is not None else "—"
            drivers.append(f"{name}: класс {kbm_class}, КБМ {value}")
        note = (
            "КБМ подтверждён страховщиком по базе АИС ОСАГО."
            if self.quote.kbm_verified
            else "Нет связи с базой КБМ: взят стартовый класс. Полис можно оформить заявлением в офисе."
        )
        return QuoteLines(rub(quote.premium), tuple(lines), tuple(drivers), note)

    def _people_for_kbm(self) -> list[str]:
        if self.drivers.unlimited:
            form = self.owner.form
            return [f"Собственник {form['owner.last_name'].text} (без ограничений)"]
        return [f"Водитель {i + 1}: {form['driver.last_name'].text}" for i, form in enumerate(self.drivers.drivers)]

    def check_link(self, policy: str) -> str:
        """The URL the policy's QR code opens (the insurer's public check)."""
        series, _, number = policy.partition(" ")
        return check_url(self.check_url, series, number)

    def outcome_view(self, outcome: SaleOutcome) -> OutcomeView:
        """Which screen shows the outcome and what it says (always what happened to the money)."""
        state = outcome.state
        if state is SaleState.COMPLETED:
            return OutcomeView("done", None, "Полис оформлен", outcome.message, outcome.money, policy=outcome.policy)
        if state is SaleState.APPLICATION_ISSUED:
            return OutcomeView(
                "application_done", None, "Заявление принято", outcome.message, outcome.money,
                application=outcome.application,
            )  # fmt: skip
        if state is SaleState.PAYMENT_DECLINED:
            # The terminal's result text is the driver's (English) table text; the customer reads Russian.
            said = outcome.terminal_text or ""
            message = outcome.message if _CYRILLIC.search(said) else "Банк или терминал не провели оплату."
            return OutcomeView("error", ErrorKind.DECLINED, "Оплата не прошла", message, outcome.money, retry=True)
        reason = outcome.message.lower()
        kind = (
            ErrorKind.PRINTER
            if "напечат" in reason
            else ErrorKind.SERVER
            if "страховщик" in reason
            else ErrorKind.KIOSK
        )
        titles = {
            ErrorKind.PRINTER: "Полис не напечатан",
            ErrorKind.SERVER: "Страховщик не оформил полис",
            ErrorKind.KIOSK: "Покупка не завершена",
        }
        return OutcomeView("error", kind, titles[kind], outcome.message, outcome.money)

    def preflight_view(self, preflight: Preflight) -> OutcomeView:
        """A kiosk not ready before payment: nothing was charged."""
        kinds = {key for key, _ in preflight.problems}
        kind = ErrorKind.PRINTER if "printer" in kinds else ErrorKind.SERVER if "insurer" in kinds else ErrorKind.KIOSK
        titles = {
            ErrorKind.PRINTER: "Принтер не готов",
            ErrorKind.SERVER: "Нет связи со страховщиком",
            ErrorKind.KIOSK: "Терминал оплаты не готов",
        }
        title = titles[kind]
        if kinds & {"disk", "journal"}:
            kind, title = ErrorKind.KIOSK, "Киоск временно не работает"  # its own storage: no sale is possible
        return OutcomeView("error", kind, title, preflight.message, "Оплата не проводилась — деньги не списаны.")


_CYRILLIC = re.compile("[А-Яа-яЁё]")


def _action() -> str:
    return str(uuid.uuid4())


def premium_of(flow: SaleFlow) -> Decimal | None:
    """The quoted premium (for the payment screen)."""
    return flow.quote.quote.premium if flow.quote else None


def field_error(exc: FieldError) -> dict[str, Any]:
    """A FieldError as the view shows it: which step, which field, what message."""
    return {"step": step_of_field(exc.field), "field": exc.field, "message": exc.message}


#: The issuing screen's steps and the sale states that mean each is done.
ISSUING_STEPS: tuple[tuple[str, frozenset[SaleState]], ...] = (
    ("Оплата одобрена", frozenset({SaleState.AUTHORISED})),
    ("Регистрация полиса у страховщика", frozenset({SaleState.REGISTERED})),
    ("Печать полиса", frozenset({SaleState.PRINTED})),
    ("Подтверждение оплаты", frozenset({SaleState.COMPLETED})),
)
_ORDER = (
    SaleState.AUTHORISED,
    SaleState.REGISTERING,
    SaleState.REGISTERED,
    SaleState.PRINTING,
    SaleState.PRINTED,
    SaleState.CONFIRMING,
    SaleState.COMPLETED,
)
#: States in which the money is on its way and the customer must wait for the paper.
ISSUING = frozenset(_ORDER[:-1]) | {SaleState.REFUSING}


def issuing_steps(state: SaleState | None) -> list[tuple[str, str]]:
    """(label, "done" | "now" | "todo") for each issuing step at ``state``."""
    reached = _ORDER.index(state) if state in _ORDER else -1
    out = []
    now_given = reached < 0
    for label, marks in ISSUING_STEPS:
        (mark,) = marks
        if reached >= _ORDER.index(mark):
            out.append((label, "done"))
        elif not now_given:
            out.append((label, "now"))
            now_given = True
        else:
            out.append((label, "todo"))
    return out
