"""The ZVT ECR: our side of the dialogue with a payment terminal, over any ``Link``.

Implements the ``PaymentTerminal`` Protocol. The terminal is master while a command runs; we answer
each of its messages (04 FF, 04 0F, 06 D1/D3, 04 01, 06 0F, 06 1E) with 80 00 00, except the goods
decision on an approved 04 0F, which ``authorise`` hands to the caller:

* ``authorise`` returns when the 04 0F arrives, without answering it. If approved, a background thread
  holds the terminal: it answers 84 9C 00 ("not finished, ask again") when ``goods.hold`` seconds pass
  without a decision, within the bounds we sent in BMP 01 (answer timeout) and BMP 02 (max. asks). The
  hold stays well inside T3 (3 s of 5 s by default): a terminal in retail mode treats an answer later
  than T3 as none and reverses (transport spec §5.2.5).
* ``confirm_goods`` answers 80 00 00 and collects the receipt and the completion; ``refuse_goods``
  answers 84 xx 00 and the terminal reverses by itself. If we die in between, the terminal reverses
  after its answer timeout.
* A payment is COMMITTED only once every receipt line (06 D1/06 D3) and the completion (06 0F) were
  answered: the terminal stores it only after our answers to the 04 0F *and* to all print commands, and
  auto-reverses otherwise (command spec §2.2.8). A terminal that goes silent after our 80 00 00 leaves
  the fate UNKNOWN; Repeat Receipt (06 20 with service byte 01, §2.20) tells what it kept.

Registration sends the list of commands we process (TLV 26, asking for 06 D3 text blocks) and the
receipt charset where the spec has a code for it (TLV 27/14); the completion's status byte says whether
the terminal runs in vending-machine mode (bit 4, §2.1 table 3), which ``status`` reports.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from drivers.payment import messages as m
from drivers.payment.apdu import decode_apdu
from drivers.payment.codes import Outcome, status_text_ru, terminal_status, terminal_status_ru
from drivers.payment.errors import (
    LinkClosedError,
    ProtocolError,
    TerminalBusyError,
    TerminalError,
    TerminalRefusedError,
    TerminalTimeoutError,
    TransportError,
)
from drivers.payment.link import Link, Timing
from drivers.payment.models import (
    MAX_AMOUNT,
    Authorisation,
    Completion,
    Diagnosis,
    Fate,
    Registration,
    TerminalStatus,
    Totals,
    TotalsGroup,
    TransactionResult,
    failed,
    outcome_of,
    to_minor_units,
    validate_amount,
)

log = logging.getLogger(__name__)

StatusCallback = Callable[[str], None]
POLL = 0.1  # how often a running dialogue looks for an abort request
MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class GoodsPolicy:
    """Issue-of-goods bounds. ``answer_timeout`` (BMP 01) is how long the terminal waits for our
    answer to its 04 0F before reversing; ``max_asks`` (BMP 02) how often we may answer 84 9C 00;
    ``hold`` how long we keep a 04 0F unanswered hoping for the decision (so a quick confirm costs
    no 2 s re-ask). Total time for the goods: about ``max_asks * (hold + 2 s)``."""

    answer_timeout: int = 30
    max_asks: int = 60
    hold: float = 3.0  # well inside T3 (5 s): see the module docstring

    def __post_init__(self) -> None:
        if not 3 <= self.answer_timeout <= 255:
            raise ValueError("answer_timeout is 3..255 seconds (one BMP byte)")
        if not 1 <= self.max_asks <= 255:
            raise ValueError("max_asks is 1..255 (one BMP byte)")
        if not 0 < self.hold <= self.answer_timeout - 2:
            raise ValueError("hold must leave at least 2 s of the terminal's answer timeout")


@dataclass
class _Exchange:
    """What the terminal said during one stretch of a dialogue."""

    info: m.StatusInfo | None = None
    info_answered: bool = True
    lines: list[str] = field(default_factory=list)
    end: str | None = None  # "completion" | "abort"
    end_code: int | None = None
    end_data: bytes = b""


class ZvtTerminal:
    """A ZVT payment terminal reached through a link (serial or TCP)."""

    def __init__(
        self,
        link: Link,
        *,
        password: str = "000000",
        currency: int = m.RUB,
        timing: Timing | None = None,
        goods: GoodsPolicy | None = None,
        tz: ZoneInfo = MOSCOW,
        max_amount: Decimal = MAX_AMOUNT,
        charset: str = "cp437",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        m.registration(password, currency)  # validates password and currency eagerly
        self._link = link
        self.password = password
        self.currency = currency
        self.timing = timing or Timing()
        self.goods = goods or GoodsPolicy()
        if self.goods.hold >= self.timing.t3:
            raise ValueError(f"goods hold {self.goods.hold} s must stay inside T3 ({self.timing.t3} s)")
        self.tz = tz
        self.max_amount = max_amount
        #: the charset asked for (URL option); ``charset`` is the one in force after Registration
        self.wanted_charset = m.normalise_charset(charset)
        self.charset = self.wanted_charset
        #: status byte bit 4 of the last Registration completion (None before one, or without a status byte)
        self.vending_mode: bool | None = None
        self._on_close = on_close
        self._mutex = threading.Lock()
        self._busy: str | None = None
        self._early: deque[bytes] = deque()
        self._abort = threading.Event()
        self._registered = False
        #: the terminal id from the last Registration (06 00): the status enquiry does not carry it
        self._terminal_id: str | None = None
        self._dialogue_ids = itertools.count(1)
        self._wait: _GoodsWait | None = None
        self._finished: dict[int, Completion] = {}
        self._closed = False

    @property
    def link(self) -> Link:
        return self._link

    # --- one transaction at a time ---------------------------------------------------------------

    def _begin(self, what: str) -> None:
        with self._mutex:
            if self._closed:
                raise TerminalError("the terminal is closed")
            if self._busy is not None:
                raise TerminalBusyError(f"cannot {what}: {self._busy} is running")
            self._busy = what

    def _end(self) -> None:
        with self._mutex:
            self._busy = None

    # --- wire helpers ----------------------------------------------------------------------------

    def _receive(self, timeout: float) -> bytes | None:
        if self._early:
            return self._early.popleft()
        return self._link.receive(timeout)

    def _command(self, apdu: bytes) -> None:
        """Send a command and wait (T3) for 80 00 / 84 xx; a PT message arriving first counts as
        the acceptance (some terminals skip the 80 00)."""
        self._link.send(apdu)
        deadline = time.monotonic() + self.timing.t3
        while True:
            answer = self._receive(deadline - time.monotonic())
            if answer is None:
                raise TerminalTimeoutError(f"no answer to {apdu[:2].hex(' ')} within T3")
            if not m.is_response(answer):
                self._early.append(answer)
                return
            if m.is_positive(answer):
                return
            code, _currency = m.decode_negative(answer)
            raise TerminalRefusedError(f"terminal refused {apdu[:2].hex(' ')}: {code:02X} {outcome_of(code)[1]}", code)

    def _dialogue(
        self, ex: _Exchange, *, stop_at_info: bool = False, on_status: StatusCallback | None = None
    ) -> _Exchange:
        """Serve the terminal's messages until Completion/Abort (or an unanswered 04 0F if asked).

        T4 restarts with every message and may be set anew by an intermediate status.
        """
        t4 = self.timing.t4
        deadline = time.monotonic() + t4
        while True:
            if self._abort.is_set():
                self._abort.clear()  # one request per call of abort()
                log.info("sending abort request 06 B0")
                self._link.send(m.abort_request())
            raw = self._receive(min(POLL, max(deadline - time.monotonic(), 0.0)))
            if raw is None:
                if time.monotonic() >= deadline:
                    raise TerminalTimeoutError("terminal silent for T4")
                continue
            deadline = time.monotonic() + t4
            apdu = decode_apdu(raw)
            control = apdu.control
            if m.is_response(raw):
                continue  # the answer to our abort request
            if control == m.STATUS_INFO:
                ex.info = m.decode_status_info(apdu.data, self.tz)
                if stop_at_info:
                    ex.info_answered = False
                    return ex
                self._link.send(m.POSITIVE)
                continue
            # Every other PT command is acknowledged first: it is also the transport of our consent.
            known = control in (
                m.INTERMEDIATE_STATUS,
                m.PRINT_LINE,
                m.PRINT_BLOCK,
                m.SET_DATE_TIME,
                m.COMPLETION,
                m.ABORT_PT,
            )
            self._link.send(m.POSITIVE if known else m.negative(0x83))
            if control == m.INTERMEDIATE_STATUS:
                status = m.decode_intermediate(apdu.data)
                if status.timeout_minutes:
                    t4 = status.timeout_minutes * 60.0
                    deadline = time.monotonic() + t4
                self._notify(on_status, status)
            elif control == m.PRINT_LINE:
                attribute, text = m.decode_print_line(apdu.data, self.charset)
                if attribute != 0xFF and not (attribute & 0x80 and not text):  # skip end-of-receipt marks
                    ex.lines.append(text)
            elif control == m.PRINT_BLOCK:
                ex.lines.extend(m.decode_print_block(apdu.data, self.charset)[1])
            elif control == m.COMPLETION:
                ex.end, ex.end_data = "completion", apdu.data
                return ex
            elif control == m.ABORT_PT:
                ex.end, ex.end_data = "abort", apdu.data
                ex.end_code = m.decode_abort(apdu.data)[0]
                return ex
            else:
                log.warning("unexpected terminal command %s answered 84 83 00", apdu)

    @staticmethod
    def _notify(on_status: StatusCallback | None, status: m.Intermediate) -> None:
        if on_status is None:
            return
        try:
            on_status(status_text_ru(status.code, status.texts))
        except Exception:  # a screen callback must never break the payment dialogue
            log.exception("on_status callback failed")

    def _result(self, ex: _Exchange, cls: type[TransactionResult], fate: Fate, **kw: object) -> TransactionResult:
        info = ex.info
        code = info.result_code if info is not None and info.result_code is not None else ex.end_code
        if code is None and ex.end == "completion":
            code = 0
        outcome, text = outcome_of(code)
        approved = code == 0
        args: dict[str, object] = {
            "approved": approved,
            "outcome": outcome,
            "result_code": code,
            "result_text": text,
            "receipt_lines": tuple(ex.lines),
            "fate": fate,
        }
        if info is not None:
            args |= {
                "amount": info.amount,
                "receipt_no": info.receipt_no,
                "trace": info.trace,
                "masked_pan": info.masked_pan,
                "auth_code": info.auth_code,
                "terminal_id": info.terminal_id,
                "card_type": info.card_type,
                "timestamp": info.timestamp,
                "original_trace": info.original_trace,
            }
        args |= kw
        return cls(**args)  # type: ignore[arg-type]

    def _ensure_registered(self) -> None:
        if not self._registered:
            self._register()

    # --- PaymentTerminal --------------------------------------------------------------------------

    def register(self) -> Registration:
        """Registration 06 00 with the kiosk config byte (ECR prints, 04 FF wanted, PT locked)."""
        self._begin("register")
        try:
            return self._register()
        finally:
            self._end()

    def _register(self) -> Registration:
        tlv = m.registration_tlv(self.wanted_charset)
        self._command(m.registration(self.password, self.currency, tlv=tlv))
        ex = self._dialogue(_Exchange())
        if ex.end != "completion":
            raise TerminalRefusedError(f"registration aborted: {ex.end_code}", ex.end_code)
        done = m.decode_registration_completion(ex.end_data)
        self._registered = True
        self._terminal_id = done.terminal_id or self._terminal_id
        self.vending_mode = done.vending_mode
        self.charset = self._accepted_charset(done)
        if done.vending_mode is False:
            log.warning(
                "terminal is not in vending-machine mode (status byte %02X): issue of goods may not hold",
                done.status_byte,
            )
        return Registration(
            terminal_id=done.terminal_id,
            status_byte=done.status_byte,
            currency=done.currency,
            vending_mode=done.vending_mode,
            charset=self.charset,
        )

    def _accepted_charset(self, done: m.RegistrationCompletion) -> str:
        """§9 tag 27: a charset we configured with TLV 14 is in force only if the completion echoes it;
        otherwise the terminal keeps CP437. Charsets without a code are the terminal's own setting."""
        code = m.CHARSET_CODES[self.wanted_charset]
        if code is None or code == m.CHARSET_CODES[m.DEFAULT_CHARSET]:
            return self.wanted_charset
        if done.charset_code == code:
            return self.wanted_charset
        log.warning("terminal did not accept charset %s: receipts decode as CP437", self.wanted_charset)
        return m.DEFAULT_CHARSET

    def status(self) -> TerminalStatus:
        """Status-Enquiry 05 01: ready or not, with the reason. Never raises for device trouble."""
        try:
            self._begin("status")
        except TerminalError as exc:
            return TerminalStatus(False, str(exc), text_ru=f"терминал занят или недоступен ({exc})")
        try:
            self._command(m.status_enquiry(self.password))
            ex = self._dialogue(_Exchange())
            if ex.end == "abort":
                return TerminalStatus(
                    False,
                    f"terminal answered abort {ex.end_code}",
                    ex.end_code,
                    text_ru=f"терминал отклонил запрос состояния (код {ex.end_code})",
                )
            enquiry = m.decode_enquiry_completion(ex.end_data)
            if enquiry.terminal_status is None:
                return TerminalStatus(
                    False,
                    "terminal status missing",
                    software_version=enquiry.software_version,
                    text_ru="терминал не сообщил своё состояние",
                )
            ready, reason = terminal_status(enquiry.terminal_status)
            return TerminalStatus(
                ready,
                reason,
                enquiry.terminal_status,
                enquiry.software_version,
                self._terminal_id,
                text_ru=terminal_status_ru(enquiry.terminal_status),
                vending_mode=self.vending_mode,
            )
        except TerminalError as exc:
            return TerminalStatus(False, f"{type(exc).__name__}: {exc}", text_ru=f"нет связи с терминалом ({exc})")
        finally:
            self._end()

    def authorise(self, amount: Decimal, *, on_status: StatusCallback | None = None) -> Authorisation:
        """Authorisation 06 01 with issue of goods; returns at the terminal's 04 0F (see module doc)."""
        value = validate_amount(amount, self.max_amount)
        self._begin("authorise")
        pending = False
        self._abort.clear()
        ex = _Exchange()
        accepted = False
        try:
            self._ensure_registered()
            apdu = m.authorisation(
                to_minor_units(value),
                self.currency,
                timeout=self.goods.answer_timeout,
                max_status_infos=self.goods.max_asks,
            )
            self._command(apdu)
            accepted = True
            self._dialogue(ex, stop_at_info=True, on_status=on_status)
            info = ex.info
            if ex.end is None and info is not None and info.result_code == 0:
                dialogue = next(self._dialogue_ids)
                auth = self._result(ex, Authorisation, Fate.PENDING, dialogue=dialogue, amount=info.amount or value)
                assert isinstance(auth, Authorisation)
                self._check_amount(auth, value)
                self._wait = _GoodsWait(self, auth, ex.lines)
                pending = True
                return auth
            if ex.end is None:
                # Declined 04 0F: acknowledge it and follow the terminal to its Abort/Completion.
                self._link.send(m.POSITIVE)
                ex.info_answered = True
                self._dialogue(ex, on_status=on_status)
            result = self._result(ex, Authorisation, Fate.DECLINED)
            assert isinstance(result, Authorisation)
            if result.approved:  # Completion without a 04 0F: nothing authorised that we could commit
                result = replace(result, approved=False, outcome=Outcome.FAULT, result_text="no status information")
            return result
        except TerminalRefusedError as exc:
            outcome, text = outcome_of(exc.result_code)
            return Authorisation(False, outcome, exc.result_code, text, amount=value, fate=Fate.DECLINED)
        except TerminalError as exc:
            # Before the terminal accepted the command no money can have moved; afterwards we do not know.
            fate = Fate.UNKNOWN if accepted else Fate.DECLINED
            outcome = Outcome.TIMEOUT if _is_timeout(exc) else Outcome.FAULT
            return Authorisation(False, outcome, None, f"{type(exc).__name__}: {exc}", amount=value, fate=fate)
        finally:
            if not pending:
                self._end()

    def _check_amount(self, auth: Authorisation, asked: Decimal) -> None:
        if auth.amount != asked:
            # pretix habit: the amount the provider reports is checked against the amount asked.
            log.error("terminal approved %s but %s was asked", auth.amount, asked)

    def confirm_goods(self, auth: Authorisation) -> Completion:
        """Goods delivered: answer 80 00 00 (the commit point) and wait for the completion."""
        return self._decide(auth, m.POSITIVE)

    def refuse_goods(self, auth: Authorisation, reason_code: int = 0x66) -> Completion:
        """Goods not delivered: answer 84 <reason> 00; the terminal reverses the payment itself."""
        if reason_code in (0x00, 0x9C, 0x9D) or not 0 < reason_code <= 0xFF:
            raise ValueError("reason code must be a negative answer (not 00, 9C or 9D)")
        return self._decide(auth, m.negative(reason_code))

    def _decide(self, auth: Authorisation, answer: bytes) -> Completion:
        if auth.dialogue in self._finished:
            return self._finished[auth.dialogue]
        wait = self._wait
        if wait is None or wait.auth.dialogue != auth.dialogue:
            raise TerminalError("no goods decision is pending for this authorisation")
        return wait.decide(answer, timeout=self.timing.t4 + self.goods.answer_timeout)

    def _goods_dialogue(self, wait: _GoodsWait) -> Completion:
        """Runs in the background thread while the terminal waits for the goods decision."""
        auth, lines = wait.auth, list(wait.lines)
        asks = 0

        def end(fate: Fate, outcome: Outcome, code: int | None, text: str) -> Completion:
            approved = fate is Fate.COMMITTED
            return Completion(approved, outcome, code, text, **auth.carried(), receipt_lines=tuple(lines), fate=fate)

        while True:
            try:
                answer = wait.decisions.get(timeout=self.goods.hold)
            except queue.Empty:
                answer = None
            if answer is None:
                if asks >= self.goods.max_asks:
                    log.warning("goods wait exhausted %d asks: the terminal will reverse", asks)
                asks += 1
                self._link.send(m.NOT_FINISHED)
                ex = self._dialogue(_Exchange(), stop_at_info=True)
                lines += ex.lines
                if ex.end is None and ex.info is not None and ex.info.result_code == 0:
                    continue  # asked again: still approved, still waiting
                if ex.end is None:
                    self._link.send(m.POSITIVE)
                    ex = self._dialogue(_Exchange(info=ex.info))
                    lines += ex.lines
                code = ex.info.result_code if ex.info else ex.end_code
                return end(Fate.REVERSED, Outcome.REVERSED, code, "terminal reversed: goods wait exceeded")
            committing = answer == m.POSITIVE
            try:
                self._link.send(answer)
            except TransportError as exc:
                # Did the terminal get our answer? If it did not, it reverses after its timeout.
                return end(Fate.UNKNOWN, Outcome.FAULT, None, f"answer not acknowledged: {exc}")
            ex = _Exchange()
            try:
                self._dialogue(ex)
            except TerminalError as exc:
                lines += ex.lines
                # §2.2.8: the terminal stores the payment only after our answers to the 04 0F and to every
                # receipt line, and reverses it otherwise. Silence before its completion: we cannot know.
                outcome = Outcome.TIMEOUT if _is_timeout(exc) else Outcome.FAULT
                what = "goods confirmed" if committing else "goods refused"
                log.warning("%s, then no completion (%s): fate unknown, ask with Repeat Receipt", what, exc)
                return end(Fate.UNKNOWN, outcome, None, f"{what}; no completion from the terminal: {exc}")
            lines += ex.lines
            if committing and ex.end != "completion":
                # An Abort after our 80 00 00 (§2.2.9: "issue of goods failed"): whether the terminal had
                # stored the payment is for Repeat Receipt to say, not for us to guess.
                log.warning("terminal ended a confirmed payment with abort %s: fate unknown", ex.end_code)
                return end(Fate.UNKNOWN, Outcome.FAULT, ex.end_code, "goods confirmed; the terminal aborted")
            if committing:
                return end(Fate.COMMITTED, Outcome.APPROVED, 0, "payment committed")
            code = ex.end_code if ex.end == "abort" else (ex.info.result_code if ex.info else None)
            return end(Fate.REVERSED, Outcome.REVERSED, code, "goods refused: terminal reversed")

    def _goods_finished(self, wait: _GoodsWait, completion: Completion) -> None:
        self._finished[wait.auth.dialogue] = completion
        while len(self._finished) > 32:
            self._finished.pop(next(iter(self._finished)))
        self._wait = None
        self._end()

    def abort(self) -> bool:
        """Ask the terminal to abort: during ``authorise`` (before the 04 0F) the running dialogue
        sends 06 B0 and ends with result 6C; when idle 06 B0 is sent as a command. False if the goods
        decision is pending (use ``refuse_goods``)."""
        with self._mutex:
            busy = self._busy
        if busy == "authorise" and self._wait is None:
            self._abort.set()
            return True
        if busy is not None:
            return False
        self._begin("abort")
        try:
            self._command(m.abort_request())
            return True
        except TerminalError as exc:
            log.warning("abort request failed: %s", exc)
            return False
        finally:
            self._end()

    def _transaction(self, what: str, apdu: bytes, fate_ok: Fate, amount: Decimal | None = None) -> TransactionResult:
        """Run a reversal/refund-style command to its end, as one transaction."""
        self._begin(what)
        accepted = False
        try:
            self._ensure_registered()
            self._command(apdu)
            accepted = True
            ex = self._dialogue(_Exchange())
        except TerminalRefusedError as exc:
            outcome, text = outcome_of(exc.result_code)
            return failed(outcome, text, exc.result_code, amount=amount, fate=Fate.DECLINED)
        except TerminalError as exc:
            outcome = Outcome.TIMEOUT if _is_timeout(exc) else Outcome.FAULT
            fate = Fate.UNKNOWN if accepted else Fate.DECLINED
            return failed(outcome, f"{type(exc).__name__}: {exc}", amount=amount, fate=fate)
        finally:
            self._end()
        result = self._result(ex, TransactionResult, fate_ok)
        if not result.approved:
            result = replace(result, fate=Fate.DECLINED)
        return result

    def reverse(self, receipt_no: str) -> TransactionResult:
        """Reversal 06 30 of a payment by its receipt number; ``fate`` REVERSED when done."""
        if not (receipt_no.isdigit() and len(receipt_no) <= 4):
            raise ValueError("receipt number is up to four digits")
        return self._transaction("reverse", m.reversal(self.password, receipt_no.rjust(4, "0")), Fate.REVERSED)

    def refund(self, amount: Decimal) -> TransactionResult:
        """Refund 06 31 of an amount to a card the customer presents; ``fate`` REFUNDED when done."""
        value = validate_amount(amount, self.max_amount)
        apdu = m.refund(self.password, to_minor_units(value), self.currency)
        return self._transaction("refund", apdu, Fate.REFUNDED, value)

    def end_of_day(self) -> Totals:
        """End-of-Day 06 50: closes the batch; totals per card type and overall."""
        self._begin("end-of-day")
        try:
            self._ensure_registered()
            self._command(m.end_of_day(self.password))
            ex = self._dialogue(_Exchange())
        finally:
            self._end()
        info = ex.info
        code = info.result_code if info and info.result_code is not None else ex.end_code
        if code is None and ex.end == "completion":
            code = 0
        _outcome, text = outcome_of(code)
        groups = tuple(TotalsGroup(t.card_type, t.count, t.amount) for t in (info.totals if info else ()))
        return Totals(
            ok=code == 0,
            result_code=code,
            result_text=text,
            count=sum(g.count for g in groups),
            amount=(info.amount if info and info.amount is not None else Decimal("0.00")),
            groups=groups,
            receipt_range=info.receipt_range if info else None,
            trace=info.trace if info else None,
            timestamp=info.timestamp if info else None,
            receipt_lines=tuple(ex.lines),
        )

    def diagnosis(self) -> Diagnosis:
        """Diagnosis 06 70: the terminal checks itself and its host connection."""
        self._begin("diagnosis")
        try:
            self._command(m.diagnosis())
            ex = self._dialogue(_Exchange())
        finally:
            self._end()
        code = ex.end_code if ex.end == "abort" else 0
        return Diagnosis(code == 0, code, outcome_of(code)[1], tuple(ex.lines))

    def repeat_receipt(self) -> TransactionResult:
        """Repeat Receipt 06 20 with service byte 01: the last transaction as the terminal remembers it.

        The service byte asks for the Status-Information "as in the original transaction" (§2.20.1, table
        5); without it a spec terminal repeats only the receipt. ``fate``: result 00 with an original trace
        (BMP 37) is a reversal of that trace (REVERSED); result 00 without is a committed payment
        (COMMITTED); any other result is DECLINED. No Status-Information at all is UNKNOWN and never
        "approved". How real terminals mark a reversal here varies [L]: check a new terminal model with
        the contract suite.
        """
        self._begin("repeat receipt")
        try:
            self._command(m.repeat_receipt(self.password, m.REPEAT_STATUS_INFO))
            ex = self._dialogue(_Exchange())
        finally:
            self._end()
        info = ex.info
        if info is None:
            result = self._result(ex, TransactionResult, Fate.UNKNOWN)
            return replace(result, approved=False, outcome=Outcome.FAULT, result_text="no status information")
        fate = Fate.DECLINED
        if info.result_code == 0:
            fate = Fate.REVERSED if info.original_trace else Fate.COMMITTED
        return self._result(ex, TransactionResult, fate)

    def close(self) -> None:
        """Refuse a pending goods decision (money-safe default), close the link, run the close hook."""
        wait = self._wait
        if wait is not None:
            log.warning("closing with a goods decision pending: refusing the goods")
            try:
                wait.decide(m.negative(0x66), timeout=self.timing.t2 * 3 + self.goods.answer_timeout)
            except TerminalError as exc:
                log.warning("refusal on close failed: %s", exc)
        with self._mutex:
            self._closed = True
        try:
            self._link.close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> ZvtTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_timeout(exc: TerminalError) -> bool:
    return isinstance(exc, TerminalTimeoutError) or (
        isinstance(exc, TransportError) and not isinstance(exc, LinkClosedError | ProtocolError)
    )


class _GoodsWait:
    """The background holder of one approved authorisation until the goods decision."""

    def __init__(self, terminal: ZvtTerminal, auth: Authorisation, lines: list[str]) -> None:
        self.terminal = terminal
        self.auth = auth
        self.lines = tuple(lines)
        self.decisions: queue.Queue[bytes] = queue.Queue(maxsize=1)
        self.done = threading.Event()
        self.completion: Completion | None = None
        self._thread = threading.Thread(target=self._run, name=f"zvt-goods-{auth.dialogue}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.completion = self.terminal._goods_dialogue(self)
        except Exception as exc:  # the line died mid-wait: the terminal reverses on its own
            log.warning("goods wait failed: %s", exc)
            base = self.auth.carried()
            self.completion = Completion(
                False,
                Outcome.FAULT,
                None,
                f"{type(exc).__name__}: {exc}",
                **base,
                receipt_lines=self.lines,
                fate=Fate.UNKNOWN,
            )
        finally:
            assert self.completion is not None
            self.terminal._goods_finished(self, self.completion)
            self.done.set()

    def decide(self, answer: bytes, timeout: float) -> Completion:
        with contextlib.suppress(queue.Full):  # a decision is already on its way: wait for its outcome
            self.decisions.put_nowait(answer)
        if not self.done.wait(timeout):
            raise TerminalTimeoutError("the goods dialogue did not finish")
        assert self.completion is not None
        return self.completion
