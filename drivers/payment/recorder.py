"""``RecordingTerminal``: a hand-written fake ``PaymentTerminal`` for service-level unit tests.

It records every call in ``calls``, keeps the same rules as the real driver (amount validation, one
transaction at a time, goods decision only for a pending approved authorisation) and plays scripted
outcomes::

    terminal = RecordingTerminal()
    terminal.script_authorisations(Outcome.DECLINED)        # the next authorise is declined
    terminal.script_completions(Fate.UNKNOWN)               # the next goods decision ends unknown
    terminal.fail_next("status", TransportError("cable"))   # the next status() raises this

Unscripted calls succeed. ``book`` is the fake's own "bank statement": receipt number -> fate.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from drivers.payment.codes import Outcome, result_code
from drivers.payment.errors import TerminalBusyError, TerminalError
from drivers.payment.models import (
    Authorisation,
    Completion,
    Diagnosis,
    Fate,
    Registration,
    TerminalStatus,
    Totals,
    TotalsGroup,
    TransactionResult,
    validate_amount,
)

# A typical result code per outcome, so scripted results look like the real thing.
_CODES: dict[Outcome, int | None] = {
    Outcome.APPROVED: 0x00,
    Outcome.DECLINED: 0x05,
    Outcome.CANCELLED_BY_CUSTOMER: 0x6C,
    Outcome.CARD_ERROR: 0x64,
    Outcome.TIMEOUT: None,
    Outcome.FAULT: 0xFF,
    Outcome.REVERSED: 0x6C,
}
TERMINAL_ID = "29000274"


class RecordingTerminal:
    """A fake payment terminal with scriptable outcomes (see the module docstring)."""

    def __init__(self, *, ready: bool = True, reason: str = "PT ready", status_texts: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.book: dict[str, Fate] = {}
        self.ready = ready
        self.reason = reason
        self.status_texts = status_texts or ("Вставьте или приложите карту", "Связь с банком, подождите")
        self.closed = False
        self._authorisations: deque[Outcome] = deque()
        self._completions: deque[Fate] = deque()
        self._failures: dict[str, BaseException] = {}
        self._numbers = itertools.count(1)
        self._pending: Authorisation | None = None
        self._busy = False
        self._last: TransactionResult | None = None

    # --- scripting --------------------------------------------------------------------------------

    def script_authorisations(self, *outcomes: Outcome) -> None:
        """Outcomes of the next ``authorise`` calls, in order."""
        self._authorisations.extend(outcomes)

    def script_completions(self, *fates: Fate) -> None:
        """Fates of the next ``confirm_goods`` calls (refusals always reverse)."""
        self._completions.extend(fates)

    def remember(self, result: TransactionResult) -> None:
        """What ``repeat_receipt`` reports from now on: the terminal's own later decision about a
        transaction (it reversed an unconfirmed payment, or had committed one whose answer was lost)."""
        self._last = result
        if result.receipt_no is not None and result.fate is not Fate.UNKNOWN:
            self.book[result.receipt_no] = result.fate
        if result.fate is not Fate.PENDING:
            self._pending = None
            self._busy = False

    def fail_next(self, method: str, error: BaseException) -> None:
        """Make the next call of ``method`` raise ``error``."""
        self._failures[method] = error

    def _record(self, method: str, *args: Any) -> None:
        if self.closed:
            raise TerminalError("the terminal is closed")
        self.calls.append((method, args))
        error = self._failures.pop(method, None)
        if error is not None:
            raise error

    @property
    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _result(self, cls: type[TransactionResult], outcome: Outcome, amount: Decimal | None, **kw: Any) -> Any:
        code = _CODES[outcome]
        number = next(self._numbers)
        return cls(
            approved=outcome is Outcome.APPROVED,
            outcome=outcome,
            result_code=code,
            result_text=result_code(code).text if code is not None else "timeout",
            amount=amount,
            receipt_no=f"{number:04d}",
            trace=f"{number:06d}",
            masked_pan="************8074",
            auth_code=f"{number * 7919 % 1_000_000:06d}",
            terminal_id=TERMINAL_ID,
            card_type="MasterCard",
            timestamp=datetime.now(ZoneInfo("Europe/Moscow")),
            receipt_lines=("ОПЛАТА", f"СУММА {amount}" if amount else ""),
            **kw,
        )

    # --- PaymentTerminal ----------------------------------------------------------------------------

    def register(self) -> Registration:
        self._record("register")
        return Registration(terminal_id=TERMINAL_ID, status_byte=0x10, currency=643, vending_mode=True, charset="cp437")

    def status(self) -> TerminalStatus:
        self._record("status")
        if self._busy:
            return TerminalStatus(False, "a transaction is running")
        return TerminalStatus(
            self.ready, self.reason, 0x00 if self.ready else 0xDF, "FAKE 1.0", TERMINAL_ID, vending_mode=True
        )

    def authorise(self, amount: Decimal, *, on_status: Any = None) -> Authorisation:
        value = validate_amount(amount)
        if self._busy:
            raise TerminalBusyError("a transaction is running")
        self._record("authorise", value)
        for text in self.status_texts:
            if on_status is not None:
                on_status(text)
        outcome = self._authorisations.popleft() if self._authorisations else Outcome.APPROVED
        approved = outcome is Outcome.APPROVED
        fate = Fate.PENDING if approved else (Fate.UNKNOWN if outcome is Outcome.TIMEOUT else Fate.DECLINED)
        auth: Authorisation = self._result(Authorisation, outcome, value, fate=fate, dialogue=len(self.calls))
        if approved:
            self._busy = True
            self._pending = auth
            assert auth.receipt_no is not None
            self.book[auth.receipt_no] = Fate.PENDING
        self._last = auth
        return auth

    def _decide(self, method: str, auth: Authorisation, fate: Fate) -> Completion:
        self._record(method, auth.receipt_no)
        if self._pending is None or self._pending.dialogue != auth.dialogue:
            raise TerminalError("no goods decision is pending for this authorisation")
        self._pending = None
        self._busy = False
        committed = fate is Fate.COMMITTED
        outcome = Outcome.APPROVED if committed else (Outcome.REVERSED if fate is Fate.REVERSED else Outcome.FAULT)
        completion = Completion(
            approved=committed,
            outcome=outcome,
            result_code=0 if committed else _CODES[outcome],
            result_text={Fate.COMMITTED: "payment committed", Fate.REVERSED: "terminal reversed"}.get(fate, "unknown"),
            **auth.carried(),
            receipt_lines=auth.receipt_lines,
            fate=fate,
        )
        assert auth.receipt_no is not None
        if fate is not Fate.UNKNOWN:
            self.book[auth.receipt_no] = fate
        self._last = completion
        return completion

    def confirm_goods(self, auth: Authorisation) -> Completion:
        fate = self._completions.popleft() if self._completions else Fate.COMMITTED
        return self._decide("confirm_goods", auth, fate)

    def refuse_goods(self, auth: Authorisation, reason_code: int = 0x66) -> Completion:
        return self._decide("refuse_goods", auth, Fate.REVERSED)

    def abort(self) -> bool:
        self._record("abort")
        return self._pending is None

    def reverse(self, receipt_no: str) -> TransactionResult:
        self._record("reverse", receipt_no)
        if self.book.get(receipt_no) is not Fate.COMMITTED:
            return TransactionResult(False, Outcome.FAULT, 0xB5, result_code(0xB5).text, fate=Fate.DECLINED)
        self.book[receipt_no] = Fate.REVERSED
        result: TransactionResult = self._result(TransactionResult, Outcome.APPROVED, None, fate=Fate.REVERSED)
        self._last = replace(result, receipt_no=receipt_no)
        return self._last

    def refund(self, amount: Decimal) -> TransactionResult:
        value = validate_amount(amount)
        self._record("refund", value)
        result: TransactionResult = self._result(TransactionResult, Outcome.APPROVED, value, fate=Fate.REFUNDED)
        assert result.receipt_no is not None
        self.book[result.receipt_no] = Fate.REFUNDED
        self._last = result
        return result

    def end_of_day(self) -> Totals:
        self._record("end_of_day")
        committed = [r for r, fate in self.book.items() if fate is Fate.COMMITTED]
        return Totals(
            True,
            0,
            "no error",
            len(committed),
            Decimal("0.00"),
            (TotalsGroup("all", len(committed), Decimal("0.00")),),
        )

    def diagnosis(self) -> Diagnosis:
        self._record("diagnosis")
        return Diagnosis(self.ready, 0 if self.ready else 0xC2, "no error" if self.ready else "diagnosis required")

    def repeat_receipt(self) -> TransactionResult:
        self._record("repeat_receipt")
        if self._last is None:
            raise TerminalError("no transaction to repeat")
        return self._last

    def close(self) -> None:
        self.calls.append(("close", ()))
        self.closed = True
