"""On-screen keyboard layouts (Kivy VKeyboard's JSON format, as dicts) for the specialised pads.

The plate and VIN pads are built from ``kiosk.validation.PLATE_LETTERS`` and ``VIN_ALPHABET``, so a
pad can offer exactly the letters the validator accepts — one definition for both. The Russian
ЙЦУКЕН layout is a data file (``ui/layouts/ru.json``): Kivy ships none.

A key is ``[label, text, keycode, width]``; keys with text type it, keys without send their keycode
(``backspace``, ``shift``, ``layout``).
"""

from __future__ import annotations

from typing import Any

from kiosk.validation import PLATE_LETTERS, VIN_ALPHABET

__all__ = ["PADS", "pad_layout"]

Key = list[Any]
DIGITS = "0123456789"
BACKSPACE: Key = ["⌫", None, "backspace", 2]


def _keys(chars: str, lower: bool = False) -> list[Key]:
    return [[ch, ch.lower() if lower else ch, ch.lower(), 1] for ch in chars]


def _grid(title: str, rows: list[list[Key]]) -> dict[str, Any]:
    cols = max(sum(key[3] for key in row) for row in rows)
    layout: dict[str, Any] = {"title": title, "description": title, "cols": cols, "rows": len(rows)}
    for index, row in enumerate(rows, start=1):
        layout[f"normal_{index}"] = row
        layout[f"shift_{index}"] = row
    return layout


def _chunks(chars: str, size: int) -> list[str]:
    return [chars[i : i + size] for i in range(0, len(chars), size)]


def digits_pad() -> dict[str, Any]:
    """A telephone-style pad: dates, passport, phone, year, power."""
    return _grid(
        "digits",
        [_keys("123"), _keys("456"), _keys("789"), [[",", ",", ",", 1], *_keys("0"), ["⌫", None, "backspace", 1]]],
    )


def plate_pad() -> dict[str, Any]:
    """The twelve plate letters and the digits."""
    letters = _chunks(PLATE_LETTERS, 6)
    return _grid(
        "plate", [_keys(letters[0]) + _keys("123"), _keys(letters[1]) + _keys("456"), [*_keys("7890"), BACKSPACE]]
    )


def vin_pad() -> dict[str, Any]:
    """Latin letters without I, O and Q, and the digits."""
    letters = "".join(ch for ch in VIN_ALPHABET if not ch.isdigit())
    rows = [[*_keys(DIGITS), BACKSPACE]] + [_keys(chunk) for chunk in _chunks(letters, 12)]
    return _grid("vin", rows)


def latin_pad() -> dict[str, Any]:
    """Latin capitals, digits and a hyphen (make, model, body number); RU switches to Cyrillic."""
    return _grid(
        "latin",
        [
            [*_keys("1234567890"), BACKSPACE],
            _keys("QWERTYUIOP-"),
            _keys("ASDFGHJKL"),
            [*_keys("ZXCVBNM"), [" ", " ", "spacebar", 2]],
            [["RU", None, "layout", 2]],
        ],
    )


def email_pad() -> dict[str, Any]:
    """Lower-case Latin with @ . - _ for an e-mail address."""
    return _grid(
        "email",
        [
            [*_keys("1234567890"), BACKSPACE],
            [*_keys("QWERTYUIOP", lower=True), ["_", "_", "_", 1]],
            [*_keys("ASDFGHJKL", lower=True), ["@", "@", "@", 2]],
            [*_keys("ZXCVBNM", lower=True), [".", ".", ".", 1], ["-", "-", "-", 1], [".ru", ".ru", ".ru", 2]],
        ],
    )


#: Pads by the name a FieldSpec gives (``ru`` is the JSON file).
PADS = {"digits": digits_pad, "plate": plate_pad, "vin": vin_pad, "latin": latin_pad, "email": email_pad}


def pad_layout(name: str) -> dict[str, Any]:
    """The layout dict of a generated pad."""
    return PADS[name]()


def typed_characters(layout: dict[str, Any]) -> set[str]:
    """Every character a layout can type (for tests: pads and validators agree)."""
    chars: set[str] = set()
    for key, rows in layout.items():
        if key.startswith(("normal_", "shift_")):
            for _label, text, _code, _width in rows:
                if text and len(text) == 1:
                    chars.add(text)
    return chars
