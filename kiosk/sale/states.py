"""The states of a sale and the transitions allowed between them.

A sale moves through *intent* states that are written to the journal before the device call they lead
to (``payment_started`` before the terminal authorises, ``registering`` before the insurer registers the
policy, ``printing`` before the printer prints, ``confirming`` before the terminal commits, ``refusing``
before the terminal is told to reverse) and *result* states written after the call returns. After a crash
the intent state says which call may or may not have happened, and recovery asks the device.

Where the money is: nothing is charged before ``authorised``; an authorisation is only committed by
``confirming`` → ``completed`` (the kiosk's acknowledgement of the issue-of-goods dialogue is the commit
point); every other way out of an authorisation ends in ``reversed``.
"""

from __future__ import annotations

import enum

__all__ = ["FINAL", "MONEY_AT_RISK", "TRANSITIONS", "IllegalTransitionError", "SaleState", "check_transition"]


class SaleState(enum.StrEnum):
    """Where a sale is."""

    CREATED = "created"
    QUOTED = "quoted"
    CONSENTED = "consented"
    READY_TO_PAY = "ready_to_pay"
    PAYMENT_STARTED = "payment_started"
    PAYMENT_DECLINED = "payment_declined"
    AUTHORISED = "authorised"
    REGISTERING = "registering"
    REGISTERED = "registered"
    PRINTING = "printing"
    PRINTED = "printed"
    CONFIRMING = "confirming"
    COMPLETED = "completed"
    REFUSING = "refusing"
    REVERSED = "reversed"
    APPLICATION = "application"
    APPLICATION_ISSUED = "application_issued"
    ABANDONED = "abandoned"
    FLAGGED = "flagged"


S = SaleState

#: Allowed next states. A sale never leaves a final state.
TRANSITIONS: dict[SaleState, frozenset[SaleState]] = {
    S.CREATED: frozenset({S.QUOTED, S.ABANDONED}),
    S.QUOTED: frozenset({S.QUOTED, S.CONSENTED, S.ABANDONED}),
    S.CONSENTED: frozenset({S.QUOTED, S.READY_TO_PAY, S.APPLICATION, S.ABANDONED}),
    S.READY_TO_PAY: frozenset({S.QUOTED, S.READY_TO_PAY, S.PAYMENT_STARTED, S.APPLICATION, S.ABANDONED}),
    S.PAYMENT_STARTED: frozenset({S.AUTHORISED, S.PAYMENT_DECLINED, S.REVERSED, S.FLAGGED}),
    S.PAYMENT_DECLINED: frozenset({S.READY_TO_PAY, S.PAYMENT_STARTED, S.ABANDONED}),
    S.AUTHORISED: frozenset({S.REGISTERING, S.REFUSING, S.REVERSED, S.FLAGGED}),
    S.REGISTERING: frozenset({S.REGISTERED, S.REFUSING, S.REVERSED, S.FLAGGED}),
    S.REGISTERED: frozenset({S.PRINTING, S.REFUSING, S.REVERSED, S.FLAGGED}),
    S.PRINTING: frozenset({S.PRINTED, S.REFUSING, S.REVERSED, S.FLAGGED}),
    S.PRINTED: frozenset({S.CONFIRMING, S.REFUSING, S.REVERSED, S.FLAGGED}),
    S.CONFIRMING: frozenset({S.COMPLETED, S.REVERSED, S.FLAGGED}),
    S.REFUSING: frozenset({S.REVERSED, S.FLAGGED}),
    S.APPLICATION: frozenset({S.APPLICATION_ISSUED, S.ABANDONED}),
    # A technician resolves a flagged sale with what the bank statement and the insurer say.
    S.FLAGGED: frozenset({S.COMPLETED, S.REVERSED, S.ABANDONED}),
    S.COMPLETED: frozenset(),
    S.REVERSED: frozenset(),
    S.APPLICATION_ISSUED: frozenset(),
    S.ABANDONED: frozenset(),
}

#: States a sale ends in.
FINAL = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)

#: States in which an authorisation may exist that is neither committed nor reversed yet.
MONEY_AT_RISK = frozenset(
    {S.PAYMENT_STARTED, S.AUTHORISED, S.REGISTERING, S.REGISTERED, S.PRINTING, S.PRINTED, S.CONFIRMING, S.REFUSING}
)


class IllegalTransitionError(ValueError):
    """A sale was asked to move to a state it may not reach from where it is."""

    def __init__(self, current: SaleState, target: SaleState) -> None:
        super().__init__(f"a sale cannot go from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: SaleState, target: SaleState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``current`` → ``target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransitionError(current, target)
