"""The in-process insurer: КБМ from its dataset, idempotent registration that survives a restart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from kiosk.insurer import GatewayRejectedError, GatewayUnavailableError, KbmQuery, PolicyContract
from kiosk.insurer.simulator import InsurerSimulator, SimulatorDataset

DATASET = SimulatorDataset.load(Path(__file__).resolve().parents[2] / "config" / "insurer_simulator.toml")
START = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def contract(sale_id: str = "s1") -> PolicyContract:
    return PolicyContract(
        sale_id=sale_id, kiosk_id="K", period_start=START, period_end=START.replace(year=2027), premium=Decimal("9140.47"),
        tariff_version="7204-U", coefficients={}, vehicle={}, policyholder={}, owner={},
    )  # fmt: skip


def test_known_driver_gets_the_class_of_the_database_and_a_stranger_the_start_class() -> None:
    insurer = InsurerSimulator(DATASET)

    known, stranger = insurer.kbm_lookup(
        [KbmQuery("7701123456", "Иванов", dt.date(1980, 1, 1)), KbmQuery("9999000000", "Петров", dt.date(1990, 1, 1))],
        dt.date(2026, 12, 1),
    )

    assert (known.kbm_class, known.found) == ("13", True)
    assert (stranger.kbm_class, stranger.found) == ("3", False)


def test_registration_issues_series_and_ten_digit_numbers_in_order() -> None:
    insurer = InsurerSimulator(DATASET)

    first = insurer.register_policy(contract("a"), idempotency_key="a")
    second = insurer.register_policy(contract("b"), idempotency_key="b")

    assert first.series == "ХХХ" and len(first.number) == 10 and first.number.isdigit()
    assert int(second.number) == int(first.number) + 1


def test_a_repeated_registration_returns_the_same_number_even_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "insurer.sqlite"
    first = InsurerSimulator(DATASET, state_file=state).register_policy(contract(), idempotency_key="s1:register")

    again = InsurerSimulator(DATASET, state_file=state).register_policy(contract(), idempotency_key="s1:register")
    other = InsurerSimulator(DATASET, state_file=state).register_policy(contract("s2"), idempotency_key="s2:register")

    assert again.number == first.number
    assert int(other.number) == int(first.number) + 1


def test_an_unreachable_insurer_refuses_everything_and_says_so() -> None:
    insurer = InsurerSimulator(DATASET, faults={"unavailable"})

    assert insurer.available() is False
    with pytest.raises(GatewayUnavailableError):
        insurer.register_policy(contract(), idempotency_key="k")


def test_a_rejected_registration_is_not_retryable() -> None:
    with pytest.raises(GatewayRejectedError):
        InsurerSimulator(DATASET, faults={"register_reject"}).register_policy(contract(), idempotency_key="k")


def test_cancelling_a_policy_is_recorded_once(tmp_path: Path) -> None:
    state = tmp_path / "insurer.sqlite"
    insurer = InsurerSimulator(DATASET, state_file=state)
    policy = insurer.register_policy(contract(), idempotency_key="r")

    insurer.cancel_policy(policy.series, policy.number, reason="payment reversed", idempotency_key="c")
    insurer.cancel_policy(policy.series, policy.number, reason="payment reversed", idempotency_key="c")

    assert InsurerSimulator(DATASET, state_file=state).cancelled == {(policy.series, policy.number)}
    assert len(InsurerSimulator(DATASET, state_file=state).records("cancel")) == 1


def test_an_application_gets_a_number_and_the_office() -> None:
    receipt = InsurerSimulator(DATASET).submit_application("s1", {}, office="Офис", idempotency_key="app")

    assert receipt.status == "в обработке"
    assert receipt.number.startswith("A-") and receipt.number.isascii()  # it goes into a QR code
