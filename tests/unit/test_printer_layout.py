"""Layout to lines: wrapping, key/value rows, tables and QR sizes for 80 mm and 58 mm paper."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.printer import (
    QR,
    Align,
    Column,
    Document,
    KeyValue,
    LayoutError,
    Preformatted,
    Table,
    Text,
    Title,
)
from drivers.printer.compose import Line, compose, plain_text, qr_modules, sanitize, wrap
from drivers.printer.layout import NBSP
from drivers.printer.profiles import load_profile

EPSON = load_profile("epson-80")
CLONE = load_profile("clone-58")

words = st.text(alphabet="абвгдеёжзАБВГДЕabcXYZ0123456789.,-№", min_size=1, max_size=15)


@given(st.lists(words, max_size=30), st.integers(8, 64))
def test_wrapped_lines_never_exceed_the_width_and_keep_every_character(parts: list[str], width: int) -> None:
    text = " ".join(parts)
    lines = wrap(text, width)
    assert all(len(line) <= width for line in lines)
    assert "".join("".join(lines).split()) == "".join(sanitize(text).split())


def test_no_break_spaces_keep_amounts_and_numbers_whole() -> None:
    lines = wrap(f"Сумма к оплате составляет 1{NBSP}234,56{NBSP}руб. и лимит 100 000 руб.", 20)
    assert "1 234,56 руб." in lines[1] + " " + lines[2] or any("1 234,56 руб." in line for line in lines)
    assert any("100 000 руб." in line for line in lines)


def test_the_ruble_sign_and_typographic_quotes_become_what_the_code_page_has() -> None:
    assert sanitize("«Тест» — 5 ₽") == '"Тест" - 5 руб.'


def test_a_key_value_row_puts_the_value_at_the_right_edge() -> None:
    (line,) = compose(Document.of("t", [KeyValue("Категория", "B")]), EPSON)
    assert isinstance(line, Line)
    assert len(line.text) == EPSON.columns and line.text.startswith("Категория") and line.text.endswith("B")


def test_a_key_value_row_too_long_for_58_mm_puts_the_value_under_the_key() -> None:
    lines = plain_text(Document.of("t", [KeyValue("Документ о регистрации", "СТС 77 00 123456")]), CLONE)
    assert lines.splitlines() == ["Документ о регистрации", "СТС 77 00 123456".rjust(32)]


def test_table_cells_wrap_inside_their_columns_and_numbers_stay_whole() -> None:
    table = Table(
        (
            Column("№", min_width=2),
            Column("ФИО", weight=3),
            Column("ВУ", weight=2),
            Column("Класс", align=Align.RIGHT),
        ),
        (("1", "ИВАНОВА МАРИЯ СЕРГЕЕВНА", "77 15 987654", "3"),),
    )
    lines = plain_text(Document.of("t", [table]), CLONE).splitlines()
    assert all(len(line) <= CLONE.columns for line in lines)
    assert any("77 15 987654" in line for line in lines)
    assert lines[1].endswith("3")


def test_a_table_row_must_match_its_columns() -> None:
    with pytest.raises(ValueError, match="cells"):
        Table((Column("a"),), (("1", "2"),))


def test_large_titles_use_half_the_columns() -> None:
    ops = compose(Document.of("t", [Title("ИНФОРМАЦИОННОЕ ПИСЬМО")]), CLONE)
    assert [op.text for op in ops if isinstance(op, Line)] == ["ИНФОРМАЦИОННОЕ", "ПИСЬМО"]


def test_preformatted_lines_keep_their_spacing_and_continue_when_too_long() -> None:
    lines = plain_text(Document.of("t", [Preformatted(("A" * 40, "  x   y"))]), CLONE).splitlines()
    assert lines == ["A" * 32, "A" * 8, "  x   y"]


def test_the_qr_module_shrinks_to_fit_narrow_paper() -> None:
    url = "https://osago.example.ru/check?number=%D0%A5%D0%A5%D0%A50123456789"
    (code,) = [op for op in compose(Document.of("t", [QR(url, module=16)]), CLONE) if not isinstance(op, Line)]
    modules = qr_modules(url)
    assert code.module * modules <= CLONE.width_dots


def test_qr_data_beyond_the_layout_limit_is_refused() -> None:
    with pytest.raises(LayoutError):
        compose(Document.of("t", [QR("x" * 500)]), EPSON)


def test_small_text_uses_the_font_b_columns() -> None:
    (line,) = compose(Document.of("t", [Text("я" * 60, small=True)]), EPSON)
    assert isinstance(line, Line) and line.small and len(line.text) == 60
