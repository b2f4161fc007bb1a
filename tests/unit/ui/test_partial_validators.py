"""As-you-type validators: nothing crashes them, and every prefix of a valid value is accepted."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.validation import (
    PLATE_LETTERS,
    VIN_ALPHABET,
    FieldError,
    normalize_plate,
    normalize_vin,
    parse_ru_date,
    partial_body_number,
    partial_decimal,
    partial_email,
    partial_licence,
    partial_name,
    partial_passport,
    partial_phone,
    partial_plate,
    partial_ru_date,
    partial_vin,
)

PARTIALS: list[Callable[[str], str]] = [
    partial_plate,
    partial_vin,
    partial_body_number,
    partial_passport,
    partial_licence,
    partial_phone,
    partial_email,
    lambda text: partial_name(text, "owner.last_name"),
    lambda text: partial_ru_date(text, "owner.birth_date"),
    lambda text: partial_decimal(text, "vehicle.power", digits=4, decimals=1),
]


@pytest.mark.parametrize("partial", PARTIALS)
@given(text=st.text(max_size=40))
def test_no_input_crashes_an_as_you_type_validator(partial: Callable[[str], str], text: str) -> None:
    try:
        result = partial(text)
    except FieldError as exc:
        assert exc.message
    else:
        assert isinstance(result, str)


@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text())))
def test_a_partial_validator_refuses_what_is_not_text(value: object) -> None:
    with pytest.raises(FieldError):
        partial_plate(value)


plates = st.builds(
    lambda a, n, b, c, r: f"{a}{n:03d}{b}{c}{r}",
    st.sampled_from(PLATE_LETTERS),
    st.integers(1, 999),
    st.sampled_from(PLATE_LETTERS),
    st.sampled_from(PLATE_LETTERS),
    st.sampled_from(["77", "177", "50", "777"]),
)


@given(plate=plates)
def test_every_prefix_of_a_valid_plate_can_be_typed(plate: str) -> None:
    for end in range(len(plate) + 1):
        assert partial_plate(plate[:end]) == plate[:end]
    assert normalize_plate(partial_plate(plate)) == plate


@given(vin=st.text(alphabet=VIN_ALPHABET, min_size=17, max_size=17))
def test_every_prefix_of_a_valid_vin_can_be_typed(vin: str) -> None:
    for end in range(18):
        assert partial_vin(vin[:end]) == vin[:end]
    assert normalize_vin(vin) == vin


@given(day=st.dates())
def test_a_date_typed_digit_by_digit_reads_back_as_the_same_day(day: object) -> None:
    digits = f"{day:%d%m%Y}"
    if not 1900 <= day.year <= 2099:  # type: ignore[attr-defined]
        return
    shown = ""
    for end in range(1, 9):
        shown = partial_ru_date(digits[:end], "d")
    assert shown == f"{day:%d.%m.%Y}" and parse_ru_date(shown, "d") == day


@pytest.mark.parametrize(
    ("partial", "text", "message"),
    [
        (partial_plate, "Б", "буква «Б» не используется"),
        (partial_vin, "XTAO", "без I, O и Q"),
        (partial_passport, "45101234567", "6 цифр номера"),
        (lambda t: partial_ru_date(t, "d"), "32", "день от 01 до 31"),
        (lambda t: partial_ru_date(t, "d"), "0113", "месяц от 01 до 12"),
        (lambda t: partial_ru_date(t, "d"), "30022001", "такой даты не существует"),
        (lambda t: partial_name(t, "n"), "Ivanov", "русскими буквами"),
        (partial_phone, "+8916", "+7 и 10 цифр"),
    ],
)
def test_a_typing_mistake_is_named_in_russian_at_once(partial: Callable[[str], str], text: str, message: str) -> None:
    with pytest.raises(FieldError, match=re.escape(message)):
        partial(text)


def test_what_is_typed_is_shown_in_canonical_form() -> None:
    assert partial_plate("a123bc") == "А123ВС"
    assert partial_passport("4510123") == "4510 123"
    assert partial_licence("77ав12") == "77 АВ 12"
    assert partial_ru_date("1503198", "d") == "15.03.198"
    assert partial_name("иванов-петров", "n") == "Иванов-Петров"
    assert partial_phone("8 916 123") == "8916123"
    assert partial_phone("+7 916 123 45 67") == "9161234567"
