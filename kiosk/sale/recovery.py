"""Recovery on start-up: every sale a crash left unfinished is resolved, or flagged for the technician.

The intent state a sale stopped in says which device call may or may not have happened; the devices
say what did. The terminal is asked for its last transaction (repeat receipt): an authorisation the
kiosk never confirmed has been (or will be) reversed by the terminal itself, one it confirmed is
committed. A policy registered for a reversed payment is annulled; a printed copy of it is spoiled.
A sale whose money the devices cannot account for is flagged — never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from drivers.payment import Fate, Outcome, TransactionResult
from kiosk.journal.models import PaymentAttempt, PolicyRecord, SaleRecord
from kiosk.journal.sidecar import Note, SidecarError
from kiosk.sale.service import SaleService, same_transaction
from kiosk.sale.states import FINAL, TRANSITIONS, SaleState

__all__ = ["Recovered", "recover"]

log = logging.getLogger(__name__)
S = SaleState
_NO_MONEY = (S.CREATED, S.QUOTED, S.CONSENTED, S.READY_TO_PAY, S.PAYMENT_DECLINED)
_AFTER_AUTHORISATION = (S.AUTHORISED, S.REGISTERING, S.REGISTERED, S.PRINTING, S.PRINTED, S.REFUSING, S.CONFIRMING)


@dataclass(frozen=True)
class Recovered:
    """What recovery did with one sale."""

    sale_id: str
    before: SaleState
    after: SaleState
    note: str


def recover(service: SaleService) -> list[Recovered]:
    """Resolve every unfinished sale, oldest first, then retry pending policy annulments.

    Outcomes the journal could not record when they happened (kept in its sidecar) are applied first.
    """
    results: list[Recovered] = []
    with service._busy:
        results += _apply_notes(service)
        with service.journal.session() as session:
            ids = session.scalars(
                select(SaleRecord.id)
                .where(SaleRecord.state.not_in([s.value for s in FINAL]))
                .order_by(SaleRecord.created_at)
            ).all()
        for sale_id in ids:
            result = _recover_one(service, sale_id)
            if result is not None:
                results.append(result)
                log.info("recovered sale %s: %s → %s (%s)", sale_id, result.before, result.after, result.note)
        _retry_annulments(service)
    return results


def _note_result(note: Note) -> TransactionResult:
    """What the terminal had said, as the note kept it."""
    fate = {"committed": Fate.COMMITTED, "reversed": Fate.REVERSED}.get(note.money, Fate.UNKNOWN)
    return TransactionResult(
        approved=fate is Fate.COMMITTED,
        outcome=Outcome.APPROVED if fate is Fate.COMMITTED else Outcome.REVERSED,
        result_code=None,
        result_text="recorded in the journal's sidecar",
        amount=Decimal(note.amount) if note.amount else None,
        receipt_no=note.receipt_no,
        trace=note.trace,
        fate=fate,
    )


def _apply_notes(service: SaleService) -> list[Recovered]:
    """The outcomes kept in the sidecar after a failed journal write: a committed payment completes its
    sale, a reversed one reverses it; the others are left to the devices (below)."""
    sidecar = service.journal.sidecar
    if sidecar is None:
        return []
    try:
        notes = sidecar.read().notes
    except (OSError, SidecarError) as exc:
        log.error("sidecar notes unreadable: %s", exc)
        return []
    results: list[Recovered] = []
    done: set[str] = set()
    for note in notes:
        with service.journal.session() as session:
            sale = session.get(SaleRecord, note.sale_id)
            before = S(sale.state) if sale is not None else None
        if before is None:
            log.error("sidecar note about sale %s, which is not in this journal: %s", note.sale_id, note.to_dict())
            continue
        done.add(note.sale_id)
        if before in FINAL or before is S.FLAGGED:
            continue
        if note.money == "committed" and before is S.CONFIRMING:
            service._complete(note.sale_id, _note_result(note))
            results.append(Recovered(note.sale_id, before, S.COMPLETED, "the sidecar kept the committed payment"))
        elif note.money == "reversed" and S.REVERSED in TRANSITIONS[before]:
            if before is S.REGISTERING:
                _adopt_registration(service, note.sale_id)  # a policy registered but never journaled is annulled
            result = _note_result(note)
            service._reversed(note.sale_id, result, "сбой журнала киоска: платёж отменён терминалом", result)
            results.append(Recovered(note.sale_id, before, S.REVERSED, "the sidecar kept the reversal"))
    if done:
        sidecar.drop_notes(done)
    for item in results:
        log.warning("recovered sale %s from the sidecar: %s -> %s", item.sale_id, item.before, item.after)
    return results


def _recover_one(service: SaleService, sale_id: str) -> Recovered | None:
    with service._tx() as session:
        sale = service._sale(session, sale_id)
        before = S(sale.state)
        if before is S.FLAGGED:
            return None
        if before in _NO_MONEY:
            service._move(session, sale, S.ABANDONED, f"{sale_id}:abandon", reason="recovered: customer gone")
            service._emit(session, "sale.abandoned", sale, {"state_before": before.value, "reason": "recovery"})
            return Recovered(sale_id, before, S.ABANDONED, "no money had moved")
        if before is S.APPLICATION:
            printed = any(job.kind == "letter" and job.status == "printed" for job in sale.print_jobs)
            service._move(session, sale, S.APPLICATION_ISSUED, f"{sale_id}:application_issued", letter_printed=printed)
            return Recovered(
                sale_id, before, S.APPLICATION_ISSUED, "application filed" + ("" if printed else "; letter not printed")
            )
        attempt = sale.payments[-1]
        trace = attempt.trace
        amount = attempt.amount
        # Traces of other sales' payments: a "last transaction" with one of them is not ours.
        known_traces = set(
            session.scalars(
                select(PaymentAttempt.trace).where(PaymentAttempt.trace.is_not(None), PaymentAttempt.sale_id != sale_id)
            ).all()
        )
    return _recover_money(service, sale_id, before=before, trace=trace, amount=amount, known_traces=known_traces)


def _recover_money(
    service: SaleService,
    sale_id: str,
    *,
    before: SaleState,
    trace: str | None,
    amount: Decimal,
    known_traces: set[str | None],
) -> Recovered:
    """A sale stopped where an authorisation may exist: the terminal's last transaction decides."""
    last = _last_transaction(service)
    if before is S.PAYMENT_STARTED and trace is None:
        return _recover_payment_start(
            service, sale_id, before=before, last=last, amount=amount, known_traces=known_traces
        )
    assert trace is not None
    verdict = last
    if last is not None and same_transaction(last, trace) and last.fate is Fate.PENDING:
        verdict = service._settle(last, trace)  # still in the goods wait: the terminal decides soon
    if verdict is None or not same_transaction(verdict, trace):
        return _flag(service, sale_id, before, "терминал не сообщил исход платежа")
    if verdict.fate is Fate.COMMITTED and before is S.CONFIRMING:
        service._complete(sale_id, verdict)
        return Recovered(sale_id, before, S.COMPLETED, "the terminal had committed the payment; policy printed")
    if verdict.fate is Fate.COMMITTED:
        return _flag(service, sale_id, before, "терминал провёл платёж без подтверждения киоска")
    if verdict.fate in (Fate.REVERSED, Fate.DECLINED):
        if before is S.REGISTERING:
            _adopt_registration(service, sale_id)
        service._reversed(sale_id, verdict, "сбой киоска до выдачи полиса")
        return Recovered(sale_id, before, S.REVERSED, "the terminal reversed the unconfirmed payment")
    return _flag(service, sale_id, before, "терминал не сообщил исход платежа")


def _recover_payment_start(
    service: SaleService,
    sale_id: str,
    *,
    before: SaleState,
    last: TransactionResult | None,
    amount: Decimal,
    known_traces: set[str | None],
) -> Recovered:
    """Crash between "payment started" and the terminal's verdict."""
    original = (last.original_trace or last.trace) if last is not None else None
    ours = last is not None and original is not None and original not in known_traces and last.amount == amount
    if ours and last is not None and original is not None and last.fate is Fate.PENDING:
        settled = service._settle(last, original)
        last = settled if settled.fate is not Fate.PENDING else last
    with service._tx() as session:
        sale = service._sale(session, sale_id)
        attempt = sale.payments[-1]
        if ours and last is not None:
            attempt.trace = original
            attempt.receipt_no = last.receipt_no
            attempt.masked_pan = last.masked_pan or attempt.masked_pan
            attempt.auth_code = last.auth_code or attempt.auth_code
            if last.fate is Fate.COMMITTED:
                attempt.status = "unknown"
                service._move(
                    session, sale, S.FLAGGED, f"{sale_id}:flag:recovery", reason="committed without confirmation"
                )
                sale.flag_reason = "терминал провёл платёж без подтверждения киоска"
                service._emit(session, "sale.flagged", sale, {"reason": sale.flag_reason, "amount": str(sale.amount)})
                return Recovered(sale_id, before, S.FLAGGED, sale.flag_reason)
            if last.fate is Fate.REVERSED:
                attempt.status = "reversed"
                attempt.finished_at = service.clock()
                service._move(session, sale, S.REVERSED, f"{sale_id}:reversed", reason="recovered")
                service._emit(
                    session,
                    "payment.reversed",
                    sale,
                    {
                        "attempt": attempt.attempt,
                        "status": "reversed",
                        "amount": str(attempt.amount),
                        "trace": attempt.trace,
                        "receipt_no": attempt.receipt_no,
                        "reason": "recovery",
                    },
                )
                return Recovered(sale_id, before, S.REVERSED, "the terminal reversed the authorisation")
        # Nothing new at the terminal, or a declined or still-undecided authorisation the kiosk will
        # never confirm: no money can be taken. The customer is gone.
        attempt.status = "declined" if not ours else "unknown"
        attempt.finished_at = service.clock()
        service._move(session, sale, S.PAYMENT_DECLINED, f"{sale_id}:declined:{attempt.attempt}", reason="recovered")
        service._move(session, sale, S.ABANDONED, f"{sale_id}:abandon", reason="recovered after payment start")
        service._emit(session, "sale.abandoned", sale, {"state_before": before.value, "reason": "recovery"})
        return Recovered(sale_id, before, S.ABANDONED, "no payment was taken")


def _last_transaction(service: SaleService) -> TransactionResult | None:
    for _ in range(service.config.settle_attempts):
        try:
            return service.terminal.repeat_receipt()
        except Exception as exc:  # the terminal may still be starting
            log.warning("terminal did not answer the repeat receipt during recovery: %s", exc)
            service._sleep(service.config.settle_pause)
    return None


def _adopt_registration(service: SaleService, sale_id: str) -> None:
    """A crash during registration: learn whether the insurer issued a policy, so it can be annulled."""
    try:
        registered = service.insurer.find_policy(f"{sale_id}:register")
    except Exception as exc:  # the server annuls by the cancel request the reversal writes
        log.warning("cannot ask the insurer about sale %s: %s", sale_id, exc)
        registered = None
    if registered is None:
        with service._tx() as session:
            sale = service._sale(session, sale_id)
            service._emit(
                session,
                "policy.cancel_requested",
                sale,
                {"series": None, "number": None, "registration_key": f"{sale_id}:register"},
            )
        return
    with service._tx() as session:
        service._record_policy(session, sale_id, registered, service._input(service._sale(session, sale_id)))


def _flag(service: SaleService, sale_id: str, before: SaleState, reason: str) -> Recovered:
    with service._tx() as session:
        service._flag(session, service._sale(session, sale_id), reason)
    return Recovered(sale_id, before, S.FLAGGED, reason)


def _retry_annulments(service: SaleService) -> None:
    with service.journal.session() as session:
        pending = session.scalars(select(PolicyRecord).where(PolicyRecord.status == "cancelling")).all()
        work = [(p.sale_id, p.series, p.number) for p in pending]
    for sale_id, series, number in work:
        service._cancel_policy(sale_id, series, number)
