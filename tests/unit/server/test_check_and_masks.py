"""The public check reads the number the way people and QR codes write it, and masks the vehicle."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.documents.policy import check_url
from server.registry import policy_status, split_policy_number
from server.web import mask_plate, mask_vin

SERIES = st.text(alphabet="АВЕКМНОРСТУХ", min_size=3, max_size=3)
NUMBER = st.from_regex(r"\d{10}", fullmatch=True)


@given(series=SERIES, number=NUMBER, space=st.sampled_from(["", " ", "  "]))
def test_the_qr_url_of_a_printed_policy_decodes_to_its_number(series: str, number: str, space: str) -> None:
    url = check_url("http://server/check", series, number)
    query = parse_qs(urlsplit(url).query)["number"][0]  # what the server's query parser hands over
    assert split_policy_number(query) == (series, number)
    assert split_policy_number(f"{series}{space}{number}") == (series, number)


def test_latin_look_alikes_and_lower_case_are_read_as_cyrillic() -> None:
    assert split_policy_number("xxx 0123456789") == ("ХХХ", "0123456789")
    assert split_policy_number("TTT0123456789") == ("ТТТ", "0123456789")


@pytest.mark.parametrize("text", ["", "ХХХ", "ХХХ 123", "ХХХ 01234567890", "123 0123456789", "ХХ 0123456789"])
def test_malformed_numbers_are_not_looked_up(text: str) -> None:
    assert split_policy_number(text) is None


def test_plate_and_vin_are_masked_like_the_rsa_checker() -> None:
    assert mask_plate("А123ВС77") == "А1**ВС 77"
    assert mask_plate("А123ВС777") == "А1**ВС 777"
    assert mask_vin("XTA21099012345678") == "XTA**********5678"
    assert mask_plate(None) == mask_vin("") == "—"


def test_status_reads_as_the_rsa_checker_words_it() -> None:
    start, end = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    assert policy_status("active", start, end, dt.date(2025, 12, 31)) == "Ожидает начала действия"
    assert policy_status("active", start, end, dt.date(2026, 6, 1)) == "Действует"
    assert policy_status("active", start, end, dt.date(2027, 1, 1)) == "Прекратил действие (истёк срок)"
    assert policy_status("annulled", start, end, dt.date(2026, 6, 1)) == "Прекратил действие (аннулирован)"
