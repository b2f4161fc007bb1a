"""The one amount rule (``kiosk.money.parse_amount``) and every edge that takes an amount as text."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.payment import validate_amount
from drivers.payment.errors import InvalidAmountError
from drivers.payment.url import common_options, parse_url
from kiosk.money import AMOUNT_PATTERN, AmountError, parse_amount
from kiosk.validation import FieldError

ASCII_DIGITS = "0123456789"
#: every character Unicode calls a decimal digit, but not 0-9: full-width, Arabic-Indic, Devanagari, ...
UNICODE_DIGITS = st.characters(categories=["Nd"]).filter(lambda ch: ch not in ASCII_DIGITS)


@given(roubles=st.integers(1, 10**10 - 1), kopecks=st.none() | st.integers(0, 99), one_place=st.booleans())
def test_ascii_digits_with_up_to_two_decimals_are_the_amount_they_read(
    roubles: int, kopecks: int | None, one_place: bool
) -> None:
    if kopecks is None:
        text = str(roubles)
    elif one_place:
        kopecks -= kopecks % 10
        text = f"{roubles}.{kopecks // 10}"
    else:
        text = f"{roubles}.{kopecks:02d}"

    amount = parse_amount(text)

    assert amount == Decimal(text)
    assert amount.as_tuple().exponent == -2


@given(
    text=st.text(alphabet=st.sampled_from("0123456789."), min_size=1, max_size=6),
    digit=UNICODE_DIGITS,
    at=st.integers(0, 6),
)
def test_any_non_ascii_digit_anywhere_is_refused(text: str, digit: str, at: int) -> None:
    typed = text[:at] + digit + text[at:]

    with pytest.raises(AmountError) as refused:
        parse_amount(typed)

    assert refused.value.reason == "format"
    assert "0–9" in refused.value.message


def test_full_width_digits_read_as_money_by_decimal_are_refused() -> None:
    assert Decimal("１２３.４５") == Decimal("123.45")  # why the rule exists: Decimal() alone takes them

    with pytest.raises(AmountError):
        parse_amount("１２３.４５")
    with pytest.raises(InvalidAmountError):
        validate_amount("１２３.４５")


@given(text=st.text(max_size=16))
def test_any_text_is_an_amount_only_if_it_matches_the_published_pattern(text: str) -> None:
    try:
        amount = parse_amount(text, allow_zero=True)
    except AmountError as error:
        assert isinstance(error, FieldError) and error.field == "amount"
        assert error.reason in {"format", "not_positive", "above_maximum"}
        return
    assert re.fullmatch(AMOUNT_PATTERN, text)
    assert all(ch in ASCII_DIGITS or ch == "." for ch in text)
    assert amount == Decimal(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1_000", "format"),
        (" 12", "format"),
        ("12 ", "format"),
        ("12\n", "format"),
        ("1e3", "format"),
        ("NaN", "format"),
        ("Infinity", "format"),
        ("+5", "format"),
        ("-5", "format"),
        ("12,50", "format"),
        ("12.", "format"),
        (".5", "format"),
        ("12.345", "format"),
        ("", "format"),
        ("12345678901", "format"),
        (1.5, "type"),
        (True, "type"),
        (None, "type"),
        (Decimal("NaN"), "not_finite"),
        (Decimal("-Infinity"), "not_finite"),
        (Decimal("1E+400"), "above_maximum"),
        pytest.param(10**5000, "above_maximum", id="a-5000-digit-integer"),
        (Decimal("1E-400"), "decimals"),
        (Decimal("0.001"), "decimals"),
        (Decimal("-1"), "negative"),
        (0, "not_positive"),
        ("0.00", "not_positive"),
    ],
)
def test_everything_else_is_refused_with_its_reason(value: object, reason: str) -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount(value)

    assert refused.value.reason == reason


def test_zero_is_an_amount_only_where_allowed_and_never_negative_zero() -> None:
    assert str(parse_amount(Decimal("-0"), allow_zero=True)) == "0.00"
    assert parse_amount("0", allow_zero=True) == 0


def test_the_maximum_is_inclusive_and_named_in_the_message() -> None:
    assert parse_amount("1000000", maximum=Decimal(1_000_000)) == Decimal("1000000.00")
    with pytest.raises(AmountError, match="1\u00a0000\u00a0000,00"):
        parse_amount("1000000.01", maximum=Decimal(1_000_000))


def test_the_terminal_driver_refuses_with_an_english_reason_what_the_kiosk_refuses() -> None:
    with pytest.raises(InvalidAmountError, match="more than two decimals"):
        validate_amount(Decimal("1.001"))
    with pytest.raises(InvalidAmountError, match="amount above the maximum"):
        validate_amount("1000000.01")
    assert validate_amount(Decimal("12.5")) == Decimal("12.50")


def test_a_terminal_url_max_amount_follows_the_amount_rule() -> None:
    assert common_options(parse_url("zvt:///dev/x?max_amount=5000.00").params, {})["max_amount"] == Decimal("5000.00")
    for bad in ("５０００", "5e3", "5000.001", "0"):
        with pytest.raises(ValueError, match="max_amount"):
            common_options(parse_url(f"zvt:///dev/x?max_amount={bad}").params, {})


def test_the_server_wire_format_and_config_take_only_ascii_digits() -> None:
    from pydantic import ValidationError

    from server.config import load_server_settings
    from server.ingest import PayloadError, _money
    from server.schemas import EndOfDay

    day = {"count": 1, "amount": "١٢٣.٤٥", "groups": [], "receipt_range": ["0001", "0001"],
           "at": "2026-11-21T23:59:59+03:00", "terminal_id": "52500001"}  # fmt: skip
    with pytest.raises(ValidationError):
        EndOfDay.model_validate(day)
    assert EndOfDay.model_validate({**day, "amount": "123.45"}).amount == "123.45"
    with pytest.raises(PayloadError):
        _money("１２３.４５", "amount")
    assert _money("0", "amount") == 0
    with pytest.raises(ValueError, match="План продаж"):
        load_server_settings(None, reports={"targets": {"default": "１５００"}})
