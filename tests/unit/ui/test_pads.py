"""The on-screen pads offer exactly what the validators accept (one definition for both)."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.validation import PLATE_LETTERS, VIN_ALPHABET
from ui.presenters.pads import pad_layout, typed_characters

RU = Path(__file__).resolve().parents[3] / "ui" / "layouts" / "ru.json"


def test_the_plate_pad_has_the_twelve_plate_letters_and_the_digits() -> None:
    assert typed_characters(pad_layout("plate")) == set(PLATE_LETTERS) | set("0123456789")


def test_the_vin_pad_has_no_i_o_or_q() -> None:
    assert typed_characters(pad_layout("vin")) == set(VIN_ALPHABET)


def test_the_digit_pad_types_digits_and_a_decimal_comma() -> None:
    assert typed_characters(pad_layout("digits")) == set("0123456789,")


def test_the_russian_layout_is_jcuken_with_every_letter_and_a_switch_to_latin() -> None:
    layout = json.loads(RU.read_text(encoding="utf-8"))
    letters = {ch for ch in typed_characters(layout) if ch.isalpha()}
    assert set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя") <= letters
    assert [key[0] for key in layout["normal_2"][:6]] == list("ЙЦУКЕН")
    assert any(key[2] == "layout" for row in layout.values() if isinstance(row, list) for key in row)


def test_every_layout_row_fits_its_columns() -> None:
    for layout in [json.loads(RU.read_text(encoding="utf-8"))] + [
        pad_layout(n) for n in ("digits", "plate", "vin", "latin", "email")
    ]:
        for name, row in layout.items():
            if name.startswith(("normal_", "shift_")):
                assert sum(key[3] for key in row) <= layout["cols"], (layout["title"], name)
