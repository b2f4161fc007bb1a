"""The kiosk's documents: every mandated policy field, the letter's deadline, the memo, money on paper."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.printer import QR, Preformatted
from drivers.printer.compose import plain_text
from drivers.printer.profiles import load_profile
from kiosk.documents import check_url, letter_document, memo_document, policy_document, slip_document
from kiosk.documents.letter import visit_deadline
from kiosk.documents.memo import memo_items
from kiosk.documents.samples import (
    SAMPLE_CHECK_URL_BASE,
    sample_letter,
    sample_memo,
    sample_policy,
    sample_slip_lines,
)
from kiosk.documents.text import KIOSK_TZ, end_moment_ru, load_template
from kiosk.money import rub

EPSON = load_profile("epson-80")
CLONE = load_profile("clone-58")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("profile", [EPSON, CLONE], ids=["80mm", "58mm"])
def test_the_policy_copy_carries_every_e_policy_field(profile: object) -> None:
    data = sample_policy()
    text = flat(plain_text(policy_document(data, SAMPLE_CHECK_URL_BASE), profile))  # type: ignore[arg-type]
    expected = [
        "Договор ОСАГО заключён в виде электронного документа",
        "Серия ХХХ № 0123456789",
        data.insurer.name,
        "с 00 ч 00 мин 01.08.2026 по 24 ч 00 мин 31.07.2027",
        "Периоды использования ТС",
        "ИВАНОВ ИВАН ИВАНОВИЧ, 01.02.1985 г.р.",
        "Собственник ТС",
        "LADA VESTA",
        "XTAGFL110KY123456",
        "А123ВС 777",
        "СТС 77 00 123456",
        "106",
        "личная",
        "С прицепом",
        "77 15 987654",
        "500 000 руб.",
        "400 000 руб.",
        "Российская Федерация",
        "КБМ",
        "0,83",
        "Страховая премия",
        "7 535,00 руб.",
        "Дата заключения договора",
        "28.07.2026",
    ]
    for field in expected:
        assert field in text, field
    assert all(word in text for word in ("ИВАНОВА", "МАРИЯ", "СЕРГЕЕВНА", "Класс"))


def test_the_policy_qr_encodes_the_public_check_url_with_series_and_number() -> None:
    document = policy_document(sample_policy(), "https://kiosk.example.ru/check")
    (url,) = document.qr_codes
    assert url.isascii()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://kiosk.example.ru/check"
    assert parse_qs(parts.query)["number"] == ["ХХХ0123456789"]


def test_an_unlimited_policy_says_so_instead_of_listing_drivers() -> None:
    data = dataclasses.replace(sample_policy(), drivers=(), unlimited_drivers=True)
    assert "без ограничения лиц" in flat(plain_text(policy_document(data, SAMPLE_CHECK_URL_BASE), EPSON))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"series": "XXX"}, "Cyrillic"),
        ({"number": "12345"}, "10 digits"),
        ({"premium": 7535.0}, "Decimal"),
        ({"period_start": datetime(2026, 8, 1)}, "timezone-aware"),
        ({"period_end": datetime(2026, 7, 1, tzinfo=KIOSK_TZ)}, "end after"),
        ({"drivers": ()}, "drivers"),
    ],
)
def test_policy_data_is_validated_when_it_is_built(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(sample_policy(), **change)  # type: ignore[arg-type]


def test_cover_ending_at_midnight_is_written_as_24_hours_of_the_day_before() -> None:
    assert end_moment_ru(datetime(2027, 8, 1, tzinfo=KIOSK_TZ)) == "24\xa0ч\xa000\xa0мин\xa031.07.2027"


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2, allow_nan=False))
def test_money_prints_with_grouped_rubles_a_comma_and_rub(amount: Decimal) -> None:
    text = rub(amount)
    assert text.endswith("\xa0руб.")
    digits = text.removesuffix("\xa0руб.").replace("\xa0", "").replace(",", ".")
    assert Decimal(digits) == amount


def test_money_rounds_half_up_and_refuses_floats() -> None:
    assert rub(Decimal("1234.565")) == "1\xa0234,57\xa0руб."
    with pytest.raises(TypeError):
        rub(12.5)  # type: ignore[arg-type]


def test_the_letter_says_visit_within_7_days_and_carries_the_application_number() -> None:
    data = sample_letter()
    document = letter_document(data)
    text = flat(plain_text(document, EPSON))
    assert document.qr_codes == ("A-2026-000123",)
    assert "в течение 7 дней с 28.07.2026 - не позднее 04.08.2026" in text
    assert data.office.address in text and "7 535,00 руб." in text
    assert "паспорт" in text
    assert visit_deadline(data.created_at, 7).date().isoformat() == "2026-08-04"


def test_the_letter_wording_comes_from_its_template() -> None:
    template = dict(load_template("letter"))
    template["visit_within_days"] = 10
    text = flat(plain_text(letter_document(sample_letter(), template), EPSON))
    assert "в течение 10 дней" in text and "07.08.2026" in text


def test_the_memo_names_the_insurer_and_flags_every_legal_deadline_for_checking() -> None:
    text = flat(plain_text(memo_document(sample_memo()), EPSON))
    assert "8 800 100-00-00" in text and "ХХХ 0123456789" in text and "112" in text
    for _heading, items in memo_items(load_template("memo")):
        for item in items:
            if any(word in item["text"] for word in ("дней", "дня")):
                assert item.get("verify") is True, item["text"]


def test_slip_lines_are_printed_as_the_terminal_sent_them() -> None:
    lines = sample_slip_lines()
    document = slip_document(lines)
    (block,) = [b for b in document.blocks if isinstance(b, Preformatted)]
    assert list(block.lines) == lines
    assert "************1234" in plain_text(document, CLONE)


def test_a_check_url_needs_an_http_base() -> None:
    with pytest.raises(ValueError, match="http"):
        check_url("kiosk.example.ru/check", "ХХХ", "0123456789")
    assert QR(check_url("https://a.ru/check", "ХХХ", "0123456789")).data.endswith("0123456789")
