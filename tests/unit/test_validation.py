"""Field validators shared by the touchscreen, the kiosk and the server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.validation import (
    FieldError,
    normalize_body_number,
    normalize_email,
    normalize_licence,
    normalize_name,
    normalize_passport,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    parse_decimal,
    parse_iso_date,
)


@pytest.mark.parametrize(
    ("raw", "plate"),
    [("А123ВС77", "А123ВС77"), ("a123bc777", "А123ВС777"), ("А 123 ВС 77", "А123ВС77"), ("1234АВ77", "1234АВ77")],
)
def test_plate_is_normalised_to_cyrillic(raw: str, plate: str) -> None:
    assert normalize_plate(raw) == plate


@pytest.mark.parametrize("raw", ["Б123ВС77", "А12ВС77", "А123ВС7", "", "ААА"])
def test_plate_with_letters_or_shape_not_used_in_russia_is_refused(raw: str) -> None:
    with pytest.raises(FieldError):
        normalize_plate(raw)


def test_vin_without_i_o_q_and_17_long_is_accepted() -> None:
    assert normalize_vin("xta 21099 043456789") == "XTA21099043456789"


@pytest.mark.parametrize("raw", ["XTA21099043456O89", "XTA2109904345678", "XTA210990434567890", "ХТА21099043456789"])
def test_vin_with_forbidden_letters_or_wrong_length_is_refused(raw: str) -> None:
    with pytest.raises(FieldError):
        normalize_vin(raw)


def test_documents_and_contacts_get_their_canonical_form() -> None:
    assert normalize_passport("4510123456") == "4510 123456"
    assert normalize_licence("7701123456") == "77 01 123456"
    assert normalize_licence("77АВ123456") == "77 АВ 123456"
    assert normalize_phone("8 (916) 123-45-67") == "+79161234567"
    assert normalize_phone("+7 916 123 45 67") == "+79161234567"
    assert normalize_email(" Ivan@Mail.RU ") == "ivan@mail.ru"
    assert normalize_name("иванов-петров", "x") == "Иванов-Петров"
    assert normalize_body_number("JZX100-1234567") == "JZX1001234567"


@pytest.mark.parametrize(
    ("validator", "raw"),
    [
        (normalize_passport, "45101234"),
        (normalize_phone, "123"),
        (normalize_email, "ivan@"),
        (normalize_name, "Ivanov"),
    ],
)
def test_malformed_document_or_contact_is_refused(validator: Callable[..., str], raw: str) -> None:
    with pytest.raises(FieldError):
        validator(raw, "field")


VALIDATORS = [normalize_plate, normalize_vin, normalize_body_number, normalize_passport, normalize_licence,
              normalize_phone, normalize_email]  # fmt: skip


@given(value=st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)))
def test_no_input_crashes_a_validator(value: object) -> None:
    for validator in [*VALIDATORS, lambda v, f="x": normalize_name(v, f)]:
        try:
            result = validator(value, "field")
        except FieldError as error:
            assert error.message and error.field == "field"
        else:
            assert isinstance(result, str) and result


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    ("validator", "value"),
    [
        (normalize_plate, "А123ВС77"),
        (normalize_passport, "4510 123456"),
        (normalize_licence, "77 01 123456"),
        (normalize_phone, "+7 916 123-45-67"),
        (parse_iso_date, "2026-12-01"),
        (parse_decimal, "110.5"),
    ],
)
def test_digits_that_only_look_like_digits_are_refused(validator: Callable[[str, str], object], value: str) -> None:
    validator(value, "field")  # the ASCII original is fine

    with pytest.raises(FieldError):
        validator(value.translate(FULL_WIDTH), "field")
