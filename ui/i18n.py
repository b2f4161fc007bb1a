"""Screen texts in the customer's language: gettext catalogues read from their ``.po`` sources.

Russian is the source language: every text in the code and the ``.kv`` files is the Russian text,
so the kiosk speaks Russian even with no catalogue at all. ``locale/<lang>/LC_MESSAGES/kiosk.po``
translates it; the ``.po`` is compiled in memory with Babel at start-up (no ``.mo`` files to build,
ship or forget to rebuild). ``locale/kiosk.pot`` is the template; ``python -m ui.i18n`` regenerates it and merges
the .po files.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

__all__ = ["DOMAIN", "LOCALE_DIR", "SOURCE_LANGUAGE", "Translator", "load_catalogue"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "kiosk"
SOURCE_LANGUAGE = "ru"


def load_catalogue(language: str, locale_dir: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The catalogue of ``language`` (the source language needs none)."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Translator:
    """``tr(text)`` in the current language; ``language`` changes at run time (the RU/EN button)."""

    def __init__(self, languages: Iterable[str], language: str = SOURCE_LANGUAGE) -> None:
        self.catalogues = {lang: load_catalogue(lang) for lang in languages}
        if language not in self.catalogues:
            raise ValueError(f"language {language!r} is not among {sorted(self.catalogues)}")
        self.default = language
        self.language = language

    def set(self, language: str) -> None:
        """Switch the language."""
        if language not in self.catalogues:
            raise ValueError(f"language {language!r} is not among {sorted(self.catalogues)}")
        self.language = language

    def next_language(self) -> str:
        """The language the switch button offers."""
        languages = list(self.catalogues)
        return languages[(languages.index(self.language) + 1) % len(languages)]

    def __call__(self, text: str) -> str:
        if not text:
            return text
        return self.catalogues[self.language].gettext(text)


# -- catalogue maintenance -------------------------------------------------------------------------
# Every Cyrillic string literal in ui/ (docstrings and f-string fragments aside) and in the .kv files
# is a customer text: that is the extraction rule, so no marker function is needed in the presenters.

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_KV_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
#: kiosk modules whose fixed Russian messages reach the screen (validators, the sale service)
DOMAIN_SOURCES = ("kiosk/validation.py", "kiosk/sale/service.py")
#: the technician's screens are Russian only (a service engineer, not a customer): not in the catalogue
TECHNICIAN_ONLY = ("technician_pin", "diagnostics", "diagnostics_detail", "diagnostics_resolve", "technician")


def _python_messages(path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(value) for value in node.values)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and _CYRILLIC.search(node.value)
        ):
            yield node.value, node.lineno


def _kv_messages(path: Path) -> Iterator[tuple[str, int]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if "tr(" in line:
            for match in _KV_STRING.finditer(line):
                if _CYRILLIC.search(match.group(1)):
                    yield match.group(1), number


def extract(root: Path) -> Catalog:
    """The message template: every customer text of the UI (and the kiosk's fixed messages)."""
    catalog = Catalog(project="osago-kiosk", domain=DOMAIN, locale=None, fuzzy=False)
    ui_dir = root / "ui"
    files = sorted(p for p in ui_dir.rglob("*.py") if "locale" not in p.parts and p.stem not in TECHNICIAN_ONLY)
    for path in files + [root / name for name in DOMAIN_SOURCES]:
        for text, line in _python_messages(path):
            catalog.add(text, locations=[(path.relative_to(root).as_posix(), line)])
    for path in sorted(p for p in ui_dir.rglob("*.kv") if p.stem not in TECHNICIAN_ONLY):
        for text, line in _kv_messages(path):
            catalog.add(text, locations=[(path.relative_to(root).as_posix(), line)])
    return catalog


def main(argv: list[str] | None = None) -> int:
    """``python -m ui.i18n`` rewrites locale/kiosk.pot and merges it into every language's .po."""
    root = LOCALE_DIR.parent.parent
    template = extract(root)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, template, omit_header=False, sort_output=True)
    for po in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po.parent.parent.name
        with po.open("rb") as source:
            catalog = read_po(source, locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as out:
            write_po(out, catalog, sort_output=True, ignore_obsolete=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
