"""Every pair of sale states: allowed transitions pass, all others are refused."""

from __future__ import annotations

import itertools

import pytest

from kiosk.sale.states import FINAL, MONEY_AT_RISK, TRANSITIONS, IllegalTransitionError, SaleState, check_transition

ALL_PAIRS = list(itertools.product(SaleState, SaleState))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=str)
def test_allowed_transition_passes(current: SaleState, target: SaleState) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), REFUSED, ids=str)
def test_other_transition_is_refused(current: SaleState, target: SaleState) -> None:
    with pytest.raises(IllegalTransitionError) as error:
        check_transition(current, target)

    assert (error.value.current, error.value.target) == (current, target)


def test_final_states_are_the_ones_a_sale_ends_in() -> None:
    assert {SaleState.COMPLETED, SaleState.REVERSED, SaleState.APPLICATION_ISSUED, SaleState.ABANDONED} == FINAL


def test_only_confirming_reaches_completed_outside_a_technicians_resolution() -> None:
    sources = {a for a, b in ALLOWED if b is SaleState.COMPLETED}

    assert sources == {SaleState.CONFIRMING, SaleState.FLAGGED}


def test_every_state_with_money_at_risk_can_reach_reversal_or_the_technician() -> None:
    for state in MONEY_AT_RISK:
        assert {SaleState.REVERSED, SaleState.FLAGGED} & TRANSITIONS[state], state


def test_no_money_state_leads_to_an_authorisation_without_a_payment_intent() -> None:
    sources = {a for a, b in ALLOWED if b is SaleState.AUTHORISED}

    assert sources == {SaleState.PAYMENT_STARTED}


def test_every_state_is_reachable_from_created() -> None:
    seen, frontier = {SaleState.CREATED}, [SaleState.CREATED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)

    assert seen == set(SaleState)
