"""Fields that validate as the customer types, and forms made of them.

A field keeps the raw text the customer typed, shows it in canonical form while a valid value can
still be reached (``kiosk.validation.partial_*``), and says at once in Russian what is wrong when it
cannot. The full validator runs when the customer presses "Далее"; its parsed value is what the sale
receives. Choice fields hold one of a fixed set of values picked from a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.validation import FieldError

__all__ = ["Choice", "Field", "FieldSpec", "Form"]

Partial = Callable[[str], str]
Full = Callable[[str], Any]


@dataclass(frozen=True)
class Choice:
    """One option of a pick list: the value the sale stores and the label the customer reads."""

    value: str
    label: str


@dataclass(frozen=True)
class FieldSpec:
    """What a field is: its path in the sale, label, keyboard pad and validators.

    ``pad`` names the on-screen keyboard layout (``ru``, ``latin``, ``digits``, ``plate``, ``vin``,
    ``email``); a field with ``choices`` is picked from a list instead of typed.
    """

    name: str
    label: str
    pad: str = "ru"
    partial: Partial | None = None
    full: Full | None = None
    optional: bool = False
    hint: str = ""
    choices: tuple[Choice, ...] = ()
    max_length: int = 60

    @property
    def is_choice(self) -> bool:
        """Picked from a list, not typed."""
        return bool(self.choices)


@dataclass
class Field:
    """A field's current text and message."""

    spec: FieldSpec
    text: str = ""
    error: str = ""

    @property
    def label(self) -> str:
        """The label shown above the field."""
        return self.spec.label

    @property
    def display(self) -> str:
        """The text to show: the choice's label for a pick list."""
        if self.spec.is_choice:
            for choice in self.spec.choices:
                if choice.value == self.text:
                    return choice.label
            return ""
        return self.text

    def set(self, text: str) -> None:
        """Replace the text (as typed) and validate it as a partial value."""
        text = text[: self.spec.max_length]
        self.error = ""
        if self.spec.is_choice:
            if text and text not in {c.value for c in self.spec.choices}:
                raise ValueError(f"{self.spec.name}: {text!r} is not one of the choices")
            self.text = text
            return
        if self.spec.partial is not None and text:
            try:
                text = self.spec.partial(text)
            except FieldError as exc:
                self.error = exc.message
        self.text = text

    def check(self) -> Any:
        """The full value; FieldError (also stored as ``error``) when it is not acceptable."""
        self.error = ""
        try:
            if not self.text.strip():
                if self.spec.optional:
                    return None
                what = "Выберите значение" if self.spec.is_choice else "Заполните поле"
                raise FieldError(what, self.spec.name)
            return self.spec.full(self.text) if self.spec.full is not None else self.text.strip()
        except FieldError as exc:
            self.error = exc.message
            raise FieldError(exc.message, self.spec.name) from None


@dataclass
class Form:
    """An ordered set of fields with one active (receiving the keyboard)."""

    specs: Sequence[FieldSpec]
    fields: dict[str, Field] = field(init=False)
    active: str = ""

    def __post_init__(self) -> None:
        self.fields = {spec.name: Field(spec) for spec in self.specs}
        self.active = next((s.name for s in self.specs if not s.is_choice), "")

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    @property
    def names(self) -> list[str]:
        """Field names in screen order."""
        return [spec.name for spec in self.specs]

    def focus(self, name: str) -> None:
        """Make a field active (a tap on it)."""
        if name not in self.fields:
            raise KeyError(name)
        self.active = name

    @property
    def pad(self) -> str:
        """The keyboard layout the active field wants."""
        return self.fields[self.active].spec.pad if self.active else "ru"

    def type(self, chars: str) -> None:
        """Characters from the keyboard go to the active field."""
        if self.active and not self.fields[self.active].spec.is_choice:
            current = self.fields[self.active]
            current.set(current.text + chars)

    def backspace(self) -> None:
        """Delete the last character of the active field (a canonical separator goes with it)."""
        if not self.active:
            return
        current = self.fields[self.active]
        if current.spec.is_choice:
            return
        text = current.text[:-1].rstrip(" .")
        current.set(text)

    def clear(self, name: str | None = None) -> None:
        """Empty a field (the active one by default)."""
        target = name or self.active
        if target:
            self.fields[target].set("")

    def set(self, name: str, text: str) -> None:
        """Set a field's text (a choice's value)."""
        self.fields[name].set(text)

    def values(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Every field's full value; FieldError for the first that fails (all failures keep messages).

        The first failing field becomes active, so the keyboard is where the customer must look.
        """
        parsed: dict[str, Any] = {}
        first: FieldError | None = None
        for name in names if names is not None else self.names:
            try:
                parsed[name] = self.fields[name].check()
            except FieldError as exc:
                if first is None:
                    first = exc
                    self.active = name
        if first is not None:
            raise first
        return parsed

    @property
    def errors(self) -> dict[str, str]:
        """Messages now shown, by field."""
        return {name: f.error for name, f in self.fields.items() if f.error}

    def wipe(self) -> None:
        """Forget everything typed (the customer left)."""
        for current in self.fields.values():
            current.text = ""
            current.error = ""
        self.active = next((s.name for s in self.specs if not s.is_choice), "")
