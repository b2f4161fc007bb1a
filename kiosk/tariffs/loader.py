"""Load and strictly validate the tariff tables (one TOML file per directive edition).

An edition file is either the base directive (``amends = ""``) or an amendment naming the edition it
amends. An amendment restates only what it changes: a corridor or КПр per category, a КМ or КВС group
by name, whole scalar tables (КО, КС, КП, КН, the cap, the formulas), and КТ rows as a list of changes.
Some parts of an edition enter into force later than the edition itself (the КБМ scale of 2022-04-01,
the motorcycle tables of 2025-04-17, the special КТ of 2026-01-01): they carry their own
``effective_from``. The loader resolves all of this into one :class:`~kiosk.tariffs.model.Tariff` per
boundary date, validates each completely, and :meth:`TariffBook.for_date` picks the one in force.

Every error names the file and the field (``7204-U.toml: km.groups[1].bands[2].up_to: ...``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kiosk.tariffs.model import (
    FACTOR_CODES,
    TARIFF_CATEGORIES,
    Corridor,
    Formula,
    KmGroup,
    KvsGroup,
    Region,
    Row,
    Tariff,
    Unfriendly,
)

__all__ = ["TariffBook", "TariffTableError", "load_tariff_book", "locality_key", "parse_tariff_files"]

SCHEMA = 1
UNKNOWN = "unknown"


class TariffTableError(ValueError):
    """A tariff table file is malformed, incomplete or inconsistent."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")
        self.file = file
        self.field = field
        self.message = message


def locality_key(name: str) -> str:
    """Normalised settlement name for look-ups: case, "ё", "г." prefixes and spacing do not matter."""
    text = name.casefold().replace("ё", "е").replace("–", "-").replace("—", "-")
    for prefix in ("город ", "г. ", "г."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return " ".join(text.replace(" -", "-").replace("- ", "-").split())


# --------------------------------------------------------------------------------------------------
# Reading primitives: each knows the file and the dotted path it is reading, for error messages.


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, path: str, message: str) -> TariffTableError:
        return TariffTableError(self.file, path, message)

    def table(self, value: object, path: str, allowed: Iterable[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, "expected a table")
        if allowed is not None:
            extra = sorted(set(value) - set(allowed))
            if extra:
                raise self.error(f"{path}.{extra[0]}" if path else extra[0], "unknown key")
        return value

    def require(self, table: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in table:
            raise self.error(_join(path, key), "missing")
        return table[key]

    def text(self, value: object, path: str, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.error(path, "expected a non-empty string" if not empty else "expected a string")
        return value

    def date(self, value: object, path: str) -> dt.date:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.error(path, "expected a date (YYYY-MM-DD, unquoted)")
        return value

    def integer(self, value: object, path: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(path, f"expected an integer >= {minimum}")
        return value

    def decimal(self, value: object, path: str, *, unknown: bool = False, positive: bool = True) -> Decimal | None:
        """A decimal written as a string ("1.24"), or None for "unknown" where that is allowed."""
        if unknown and value == UNKNOWN:
            return None
        if not isinstance(value, str):
            # A TOML float is binary: 1.1 would not be exactly 1.1. Insist on strings.
            raise self.error(path, 'write the number as a string, e.g. "1.24"')
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(path, f"not a number: {value!r}") from None
        if not number.is_finite() or (positive and number <= 0):
            raise self.error(path, f"must be a positive number, got {value!r}")
        return number

    def known_decimal(self, value: object, path: str) -> Decimal:
        number = self.decimal(value, path)
        assert number is not None
        return number

    def string_list(self, value: object, path: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.error(path, "expected a list of strings")
        return list(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------------------------------
# One parsed edition file (partial: an amendment holds only what it changes).


@dataclass
class _Change:
    region: str
    region_name: str | None
    localities: list[str]
    other: bool
    kt: Decimal | None
    multiplier: Decimal | None
    confidence: str
    path: str


@dataclass
class _Edition:
    file: str
    id: str
    title: str
    effective_from: dt.date
    amends: str
    sources: dict[str, str]
    formulas: dict[Formula, frozenset[str]] | None = None
    cap: tuple[Decimal, Decimal] | None = None
    corridors: dict[str, Corridor] = field(default_factory=dict)
    regions: dict[str, Region] | None = None
    foreign_kt: Row | None = None
    changes: list[_Change] = field(default_factory=list)
    unfriendly: tuple[dt.date, Unfriendly] | None = None
    kbm_scales: list[tuple[dt.date, tuple[str, ...], dict[str, Row]]] = field(default_factory=list)
    kbm_start_class: str | None = None
    kbm_transitions: tuple[tuple[str, ...], dict[str, tuple[str, ...]]] | None = None
    kvs_groups: list[tuple[dt.date, KvsGroup]] = field(default_factory=list)
    ko: tuple[Row, Row, Row] | None = None
    km_groups: list[tuple[dt.date, KmGroup]] = field(default_factory=list)
    ks: tuple[dict[int, Row], frozenset[str]] | None = None
    kp: tuple[tuple[tuple[int, int, Row], ...], dict[int, Row], int, Row] | None = None
    kn: Row | None = None
    kpr: dict[str, Row] = field(default_factory=dict)
    #: source keys referenced by tables, checked once the amended chain's sources are known
    references: list[tuple[str, str]] = field(default_factory=list)


_TOP_KEYS = (
    "schema",
    "edition",
    "sources",
    "formulas",
    "cap",
    "corridors",
    "territory",
    "kbm",
    "kvs",
    "ko",
    "km",
    "ks",
    "kp",
    "kn",
    "kpr",
)


def _parse_edition(file: str, content: bytes | str) -> _Edition:
    r = _Reader(file)
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        doc = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise r.error("", f"not valid TOML: {exc}") from None
    r.table(doc, "", _TOP_KEYS)
    if doc.get("schema") != SCHEMA:
        raise r.error("schema", f"expected schema = {SCHEMA}")
    meta = r.table(
        r.require(doc, "edition", ""),
        "edition",
        ("id", "title", "effective_from", "amends", "confidence", "sources"),
    )
    ed = _Edition(
        file=file,
        id=r.text(r.require(meta, "id", "edition"), "edition.id"),
        title=r.text(r.require(meta, "title", "edition"), "edition.title"),
        effective_from=r.date(r.require(meta, "effective_from", "edition"), "edition.effective_from"),
        amends=r.text(meta.get("amends", ""), "edition.amends", empty=True),
        sources={},
    )
    for key, value in r.table(doc.get("sources", {}), "sources").items():
        ed.sources[key] = r.text(value, f"sources.{key}")
    _note_sources(r, ed, meta, "edition")
    for section, parse in _SECTIONS.items():
        if section in doc:
            parse(r, ed, doc[section])
    return ed


def _parse_cap(r: _Reader, ed: _Edition, value: object) -> None:
    cap = r.table(value, "cap", ("multiplier", "multiplier_with_kn", "confidence", "sources"))
    _note_sources(r, ed, cap, "cap")
    ed.cap = (
        r.known_decimal(r.require(cap, "multiplier", "cap"), "cap.multiplier"),
        r.known_decimal(r.require(cap, "multiplier_with_kn", "cap"), "cap.multiplier_with_kn"),
    )


def _parse_corridors(r: _Reader, ed: _Edition, value: object) -> None:
    for category, raw in r.table(value, "corridors").items():
        path = f"corridors.{category}"
        _check_category(r, category, path)
        body = r.table(raw, path, ("name", "min", "max", "confidence", "sources"))
        _note_sources(r, ed, body, path)
        low = r.decimal(body["min"], f"{path}.min") if "min" in body else None
        high = r.decimal(body["max"], f"{path}.max") if "max" in body else None
        if low is None and high is None:
            raise r.error(path, "a corridor needs at least its maximum")
        if low is not None and high is not None and low > high:
            raise r.error(path, f"min {low} is above max {high}")
        ed.corridors[category] = Corridor(
            category=category,
            name=r.text(r.require(body, "name", path), f"{path}.name"),
            min=low,
            max=high,
            source=f"{ed.id}: {path}",
            confidence=str(body.get("confidence", "")),
        )


def _groups(r: _Reader, value: object, section: str) -> list[object]:
    body = r.table(value, section, ("groups",))
    groups = r.require(body, "groups", section)
    if not isinstance(groups, list):
        raise r.error(f"{section}.groups", f"expected an array of tables [[{section}.groups]]")
    return groups


def _parse_kvs(r: _Reader, ed: _Edition, value: object) -> None:
    for index, body in enumerate(_groups(r, value, "kvs")):
        ed.kvs_groups.append(_parse_kvs_group(r, ed, body, f"kvs.groups[{index}]"))


def _parse_km(r: _Reader, ed: _Edition, value: object) -> None:
    for index, body in enumerate(_groups(r, value, "km")):
        ed.km_groups.append(_parse_km_group(r, ed, body, f"km.groups[{index}]"))


_KO_LABELS = {
    "limited": "ограниченный список водителей",
    "unlimited": "без ограничения списка водителей",
    "legal_entity": "юридическое лицо",
}


def _parse_ko(r: _Reader, ed: _Edition, value: object) -> None:
    ko = r.table(value, "ko", (*_KO_LABELS, "confidence", "sources"))
    _note_sources(r, ed, ko, "ko")
    limited, unlimited, legal = (
        Row(
            r.known_decimal(r.require(ko, key, "ko"), f"ko.{key}"),
            label,
            f"{ed.id}: ko.{key}",
            str(ko.get("confidence", "")),
        )
        for key, label in _KO_LABELS.items()
    )
    ed.ko = (limited, unlimited, legal)


def _parse_ks(r: _Reader, ed: _Edition, value: object) -> None:
    ks = r.table(value, "ks", ("months", "legal_entity_categories", "confidence", "sources"))
    _note_sources(r, ed, ks, "ks")
    months = _month_table(r, ed, r.require(ks, "months", "ks"), "ks.months", "период использования {} мес.", first=None)
    legal = r.string_list(ks.get("legal_entity_categories", []), "ks.legal_entity_categories")
    for index, category in enumerate(legal):
        _check_category(r, category, f"ks.legal_entity_categories[{index}]")
    ed.ks = (months, frozenset(legal))


def _parse_kn(r: _Reader, ed: _Edition, value: object) -> None:
    kn = r.table(value, "kn", ("value", "confidence", "sources"))
    _note_sources(r, ed, kn, "kn")
    ed.kn = Row(
        r.known_decimal(r.require(kn, "value", "kn"), "kn.value"),
        "грубые нарушения условий страхования",
        f"{ed.id}: kn.value",
        str(kn.get("confidence", "")),
    )


def _parse_kpr(r: _Reader, ed: _Edition, value: object) -> None:
    kpr = r.table(value, "kpr")
    confidence = str(kpr.get("confidence", ""))
    _note_sources(r, ed, kpr, "kpr")
    for category, coefficient in kpr.items():
        if category in ("confidence", "sources"):
            continue
        _check_category(r, category, f"kpr.{category}")
        ed.kpr[category] = Row(
            r.known_decimal(coefficient, f"kpr.{category}"),
            "использование с прицепом",
            f"{ed.id}: kpr.{category}",
            confidence,
        )


def _note_sources(r: _Reader, ed: _Edition, table: Mapping[str, Any], path: str) -> None:
    if "sources" in table:
        for index, key in enumerate(r.string_list(table["sources"], f"{path}.sources")):
            ed.references.append((f"{path}.sources[{index}]", key))


def _check_category(r: _Reader, category: str, path: str) -> None:
    if category not in TARIFF_CATEGORIES:
        raise r.error(path, f"unknown tariff category {category!r} (known: {', '.join(TARIFF_CATEGORIES)})")


def _parse_formulas(r: _Reader, ed: _Edition, value: object) -> None:
    allowed = [case.value for case in Formula] + ["confidence", "sources"]
    body = r.table(value, "formulas", allowed)
    _note_sources(r, ed, body, "formulas")
    formulas: dict[Formula, frozenset[str]] = {}
    for case in Formula:
        path = f"formulas.{case.value}"
        factors = r.string_list(r.require(body, case.value, "formulas"), path)
        for index, code in enumerate(factors):
            if code not in FACTOR_CODES:
                raise r.error(f"{path}[{index}]", f"unknown factor {code!r} (known: {', '.join(FACTOR_CODES)})")
        if "TB" not in factors:
            raise r.error(path, "a formula must include TB")
        formulas[case] = frozenset(factors)
    ed.formulas = formulas


def _parse_territory(r: _Reader, ed: _Edition, value: object) -> None:
    body = r.table(value, "territory", ("foreign", "confidence", "sources", "regions", "changes", "unfriendly"))
    _note_sources(r, ed, body, "territory")
    confidence = str(body.get("confidence", ""))
    if "foreign" in body:
        ed.foreign_kt = Row(
            r.known_decimal(body["foreign"], "territory.foreign"),
            "ТС зарегистрировано в иностранном государстве",
            f"{ed.id}: territory.foreign",
            confidence,
        )
    if "regions" in body:
        if ed.amends:
            raise r.error("territory.regions", "an amendment changes КТ rows with [[territory.changes]]")
        ed.regions = {}
        regions = body["regions"]
        if not isinstance(regions, list) or not regions:
            raise r.error("territory.regions", "expected a non-empty array of tables [[territory.regions]]")
        for index, item in enumerate(regions):
            path = f"territory.regions[{index}]"
            region_body = r.table(item, path, ("code", "name", "fias", "other", "localities"))
            code = _region_code(r, r.require(region_body, "code", path), f"{path}.code")
            if code in ed.regions:
                raise r.error(f"{path}.code", f"region {code} is listed twice")
            name = r.text(r.require(region_body, "name", path), f"{path}.name")
            source = f"{ed.id}: territory.regions[{code}]"
            other = Row(
                r.decimal(r.require(region_body, "other", path), f"{path}.other", unknown=True),
                f"{name}, прочие населённые пункты",
                source,
                confidence,
            )
            localities: dict[str, Row] = {}
            names: dict[str, str] = {}
            for j, loc in enumerate(region_body.get("localities", [])):
                loc_path = f"{path}.localities[{j}]"
                loc_body = r.table(loc, loc_path, ("name", "kt", "fias"))
                loc_name = r.text(r.require(loc_body, "name", loc_path), f"{loc_path}.name").strip()
                key = locality_key(loc_name)
                if key in localities:
                    raise r.error(f"{loc_path}.name", f"locality {loc_name!r} is listed twice in region {code}")
                localities[key] = Row(
                    r.decimal(r.require(loc_body, "kt", loc_path), f"{loc_path}.kt", unknown=True),
                    f"{name}, {loc_name}",
                    source,
                    confidence,
                )
                names[key] = loc_name
            ed.regions[code] = Region(code, name, other, localities, names)
    for index, item in enumerate(body.get("changes", [])):
        path = f"territory.changes[{index}]"
        change = r.table(
            item,
            path,
            ("region", "region_name", "localities", "other", "kt", "multiplier", "confidence", "sources"),
        )
        _note_sources(r, ed, change, path)
        localities_list = r.string_list(change.get("localities", []), f"{path}.localities")
        other = change.get("other", False)
        if not isinstance(other, bool):
            raise r.error(f"{path}.other", "expected true or false")
        if bool(localities_list) == other:
            raise r.error(path, "a change names either localities or other = true")
        ed.changes.append(
            _Change(
                region=_region_code(r, r.require(change, "region", path), f"{path}.region"),
                region_name=r.text(change["region_name"], f"{path}.region_name") if "region_name" in change else None,
                localities=localities_list,
                other=other,
                kt=r.decimal(r.require(change, "kt", path), f"{path}.kt", unknown=True),
                multiplier=r.decimal(change["multiplier"], f"{path}.multiplier") if "multiplier" in change else None,
                confidence=str(change.get("confidence", "")),
                path=path,
            )
        )
    if "unfriendly" in body:
        path = "territory.unfriendly"
        unf = r.table(
            body["unfriendly"],
            path,
            (
                "effective_from",
                "kt",
                "kt_cars_and_motorcycles",
                "cars_and_motorcycles",
                "confidence",
                "sources",
            ),
        )
        _note_sources(r, ed, unf, path)
        cars = r.string_list(r.require(unf, "cars_and_motorcycles", path), f"{path}.cars_and_motorcycles")
        for index, category in enumerate(cars):
            _check_category(r, category, f"{path}.cars_and_motorcycles[{index}]")
        since = r.date(r.require(unf, "effective_from", path), f"{path}.effective_from")
        conf = str(unf.get("confidence", ""))
        label = "ТС зарегистрировано в недружественном государстве"
        ed.unfriendly = (
            since,
            Unfriendly(
                cars_and_motorcycles=frozenset(cars),
                kt_cars_and_motorcycles=Row(
                    r.known_decimal(r.require(unf, "kt_cars_and_motorcycles", path), f"{path}.kt_cars_and_motorcycles"),
                    label,
                    f"{ed.id}: {path}.kt_cars_and_motorcycles",
                    conf,
                ),
                kt_other=Row(
                    r.known_decimal(r.require(unf, "kt", path), f"{path}.kt"),
                    label,
                    f"{ed.id}: {path}.kt",
                    conf,
                ),
            ),
        )


def _region_code(r: _Reader, value: object, path: str) -> str:
    if not isinstance(value, str) or not value.isdigit() or len(value) != 2:
        raise r.error(path, 'expected a two-digit region code as a string, e.g. "77"')
    return value


def _parse_kbm(r: _Reader, ed: _Edition, value: object) -> None:
    body = r.table(
        value, "kbm", ("start_class", "transition_columns", "scales", "transitions", "confidence", "sources")
    )
    _note_sources(r, ed, body, "kbm")
    confidence = str(body.get("confidence", ""))
    for index, raw in enumerate(body.get("scales", [])):
        path = f"kbm.scales[{index}]"
        scale = r.table(raw, path, ("effective_from", "classes"))
        since = r.date(r.require(scale, "effective_from", path), f"{path}.effective_from")
        classes = r.table(r.require(scale, "classes", path), f"{path}.classes")
        if len(classes) < 2:
            raise r.error(f"{path}.classes", "a КБМ scale needs at least two classes")
        rows = {
            name: Row(
                r.known_decimal(coef, f"{path}.classes.{name}"),
                f"класс {name}",
                f"{ed.id}: {path}.classes.{name}",
                confidence,
            )
            for name, coef in classes.items()
        }
        order = tuple(classes)
        coefficients = [rows[name].value for name in order]
        if any(a is not None and b is not None and a <= b for a, b in itertools.pairwise(coefficients)):
            raise r.error(f"{path}.classes", "classes must be listed from worst (highest coefficient) to best")
        ed.kbm_scales.append((since, order, rows))
    if "start_class" in body:
        ed.kbm_start_class = r.text(body["start_class"], "kbm.start_class")
    if "transitions" in body or "transition_columns" in body:
        columns = tuple(r.string_list(r.require(body, "transition_columns", "kbm"), "kbm.transition_columns"))
        table = r.table(r.require(body, "transitions", "kbm"), "kbm.transitions")
        transitions: dict[str, tuple[str, ...]] = {}
        for name, raw_targets in table.items():
            path = f"kbm.transitions.{name}"
            targets = r.string_list(raw_targets, path)
            if len(targets) != len(columns):
                raise r.error(path, f"expected {len(columns)} next classes (one per column of transition_columns)")
            transitions[name] = tuple(targets)
        ed.kbm_transitions = (columns, transitions)


def _parse_kvs_group(r: _Reader, ed: _Edition, value: object, path: str) -> tuple[dt.date, KvsGroup]:
    body = r.table(
        value,
        path,
        (
            "name",
            "effective_from",
            "categories",
            "age_from",
            "experience_from",
            "table",
            "confidence",
            "sources",
        ),
    )
    _note_sources(r, ed, body, path)
    since = r.date(body["effective_from"], f"{path}.effective_from") if "effective_from" in body else ed.effective_from
    name = r.text(r.require(body, "name", path), f"{path}.name")
    categories = _group_categories(r, body, path)
    raw = r.require(body, "table", path)
    confidence = str(body.get("confidence", ""))
    if raw == UNKNOWN:
        return since, KvsGroup(name, categories, (), (), None, f"{ed.id}: {path}")
    ages = _bands(r, r.require(body, "age_from", path), f"{path}.age_from", first=16)
    experience = _bands(r, r.require(body, "experience_from", path), f"{path}.experience_from", first=0)
    if not isinstance(raw, list) or len(raw) != len(ages):
        raise r.error(f"{path}.table", f"expected {len(ages)} rows, one per age band")
    rows: list[tuple[Row | None, ...]] = []
    for i, line in enumerate(raw):
        if not isinstance(line, list) or len(line) != len(experience):
            raise r.error(f"{path}.table[{i}]", f"expected {len(experience)} cells, one per experience band")
        cells: list[Row | None] = []
        for j, cell in enumerate(line):
            cell_path = f"{path}.table[{i}][{j}]"
            if cell == "":
                cells.append(None)
                continue
            age_label = _band_label(ages, i)
            exp_label = _band_label(experience, j)
            cells.append(
                Row(
                    r.known_decimal(cell, cell_path),
                    f"возраст {age_label}, стаж {exp_label}",
                    f"{ed.id}: {cell_path}",
                    confidence,
                )
            )
        rows.append(tuple(cells))
    return since, KvsGroup(name, categories, ages, experience, tuple(rows), f"{ed.id}: {path}")


def _years(n: int) -> str:
    """Russian plural of "год" for the number that ends a phrase (21 год, 24 года, 29 лет)."""
    if n % 10 == 1 and n % 100 != 11:
        return "год"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "года"
    return "лет"


def _band_label(starts: tuple[int, ...], index: int) -> str:
    low = starts[index]
    if index + 1 == len(starts):
        return f"{low} {_years(low)} и более"
    high = starts[index + 1] - 1
    return f"{low} {_years(low)}" if low == high else f"{low}–{high} {_years(high)}"


def _bands(r: _Reader, value: object, path: str, first: int) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise r.error(path, "expected a non-empty list of band starts")
    starts = tuple(r.integer(item, f"{path}[{i}]") for i, item in enumerate(value))
    if starts[0] != first:
        raise r.error(f"{path}[0]", f"the first band must start at {first}")
    for i in range(1, len(starts)):
        if starts[i] <= starts[i - 1]:
            raise r.error(f"{path}[{i}]", "band starts must increase (overlapping bands)")
    return starts


def _group_categories(r: _Reader, body: Mapping[str, Any], path: str) -> frozenset[str]:
    categories = r.string_list(r.require(body, "categories", path), f"{path}.categories")
    for index, category in enumerate(categories):
        if category != "*":
            _check_category(r, category, f"{path}.categories[{index}]")
    return frozenset(categories)


def _parse_km_group(r: _Reader, ed: _Edition, value: object, path: str) -> tuple[dt.date, KmGroup]:
    body = r.table(value, path, ("name", "effective_from", "categories", "bands", "confidence", "sources"))
    _note_sources(r, ed, body, path)
    since = r.date(body["effective_from"], f"{path}.effective_from") if "effective_from" in body else ed.effective_from
    name = r.text(r.require(body, "name", path), f"{path}.name")
    categories = _group_categories(r, body, path)
    if "*" in categories:
        raise r.error(f"{path}.categories", "КМ applies to named categories only")
    raw = r.require(body, "bands", path)
    if not isinstance(raw, list) or not raw:
        raise r.error(f"{path}.bands", "expected a non-empty list of bands")
    confidence = str(body.get("confidence", ""))
    bands: list[tuple[Decimal, Decimal | None, Row]] = []
    expected_above = Decimal(0)
    for i, raw_band in enumerate(raw):
        band_path = f"{path}.bands[{i}]"
        band = r.table(raw_band, band_path, ("above", "up_to", "km"))
        above = r.decimal(r.require(band, "above", band_path), f"{band_path}.above", positive=False)
        assert above is not None
        up_to_raw = r.require(band, "up_to", band_path)
        up_to = None if up_to_raw == "" else r.known_decimal(up_to_raw, f"{band_path}.up_to")
        if above < expected_above:
            raise r.error(
                f"{band_path}.above",
                f"overlapping power bands: this band starts at {above}, the previous ends at {expected_above}",
            )
        if above > expected_above:
            raise r.error(f"{band_path}.above", f"missing band: nothing covers {expected_above}–{above} hp")
        if up_to is not None and up_to <= above:
            raise r.error(f"{band_path}.up_to", "a band must end above its start")
        if up_to is None and i != len(raw) - 1:
            raise r.error(f"{band_path}.up_to", 'only the last band may be open-ended (up_to = "")')
        label = (
            f"мощность свыше {above} до {up_to} л.с. включительно"
            if up_to is not None
            else f"мощность свыше {above} л.с."
        )
        if above == 0:
            label = f"мощность до {up_to} л.с. включительно"
        bands.append(
            (
                above,
                up_to,
                Row(
                    r.decimal(r.require(band, "km", band_path), f"{band_path}.km", unknown=True),
                    label,
                    f"{ed.id}: {band_path}",
                    confidence,
                ),
            )
        )
        expected_above = up_to if up_to is not None else expected_above
    if bands[-1][1] is not None:
        raise r.error(
            f"{path}.bands[{len(raw) - 1}].up_to",
            'missing band: the last band must be open-ended (up_to = "")',
        )
    return since, KmGroup(name, categories, tuple(bands))


def _month_table(
    r: _Reader, ed: _Edition, value: object, path: str, label: str, *, first: int | None
) -> dict[int, Row]:
    body = r.table(value, path)
    months: dict[int, Row] = {}
    for key, coef in body.items():
        if not key.isdigit() or not 1 <= int(key) <= 12:
            raise r.error(f"{path}.{key}", "months are numbered 1 to 12")
        months[int(key)] = Row(r.known_decimal(coef, f"{path}.{key}"), label.format(key), f"{ed.id}: {path}.{key}")
    if not months:
        raise r.error(path, "empty table")
    start = first if first is not None else min(months)
    for month in range(start, 13):
        if month not in months:
            raise r.error(path, f"missing band: no value for {month} months")
    return months


def _parse_kp(r: _Reader, ed: _Edition, value: object) -> None:
    body = r.table(
        value,
        "kp",
        ("foreign_days", "foreign_months", "transit_max_days", "transit", "confidence", "sources"),
    )
    _note_sources(r, ed, body, "kp")
    days: list[tuple[int, int, Row]] = []
    previous_end = None
    for i, raw in enumerate(r.require(body, "foreign_days", "kp")):
        path = f"kp.foreign_days[{i}]"
        band = r.table(raw, path, ("from", "to", "kp"))
        low = r.integer(r.require(band, "from", path), f"{path}.from", minimum=1)
        high = r.integer(r.require(band, "to", path), f"{path}.to", minimum=low)
        if previous_end is not None and low != previous_end + 1:
            raise r.error(f"{path}.from", f"day bands must follow each other: expected {previous_end + 1}")
        previous_end = high
        days.append(
            (
                low,
                high,
                Row(
                    r.known_decimal(r.require(band, "kp", path), f"{path}.kp"),
                    f"срок страхования {low}–{high} дн.",
                    f"{ed.id}: {path}",
                ),
            )
        )
    months = _month_table(
        r, ed, r.require(body, "foreign_months", "kp"), "kp.foreign_months", "срок страхования {} мес.", first=1
    )
    transit_days = r.integer(r.require(body, "transit_max_days", "kp"), "kp.transit_max_days", minimum=1)
    transit = Row(
        r.known_decimal(r.require(body, "transit", "kp"), "kp.transit"),
        f"следование к месту регистрации, до {transit_days} дн.",
        f"{ed.id}: kp.transit",
        str(body.get("confidence", "")),
    )
    ed.kp = (tuple(days), months, transit_days, transit)


_SECTIONS: dict[str, Callable[[_Reader, _Edition, object], None]] = {
    "formulas": _parse_formulas,
    "cap": _parse_cap,
    "corridors": _parse_corridors,
    "territory": _parse_territory,
    "kbm": _parse_kbm,
    "kvs": _parse_kvs,
    "ko": _parse_ko,
    "km": _parse_km,
    "ks": _parse_ks,
    "kp": _parse_kp,
    "kn": _parse_kn,
    "kpr": _parse_kpr,
}


# --------------------------------------------------------------------------------------------------
# The book: editions folded into one resolved Tariff per boundary date.


@dataclass(frozen=True)
class TariffBook:
    """Every tariff the kiosk knows, by the date from which it is in force."""

    dates: tuple[dt.date, ...]
    tariffs: tuple[Tariff, ...]

    def for_date(self, day: dt.date) -> Tariff:
        """The tariff in force on ``day``; LookupError before the first edition."""
        index = bisect.bisect_right(self.dates, day) - 1
        if index < 0:
            raise LookupError(
                f"no tariff is in force on {day.isoformat()} (the first edition starts {self.dates[0].isoformat()})"
            )
        return self.tariffs[index]

    @property
    def first_date(self) -> dt.date:
        """The first day any tariff is in force."""
        return self.dates[0]

    @property
    def current_versions(self) -> tuple[str, ...]:
        """Edition ids in order."""
        seen: dict[str, None] = {}
        for tariff in self.tariffs:
            seen.setdefault(tariff.version)
        return tuple(seen)


def load_tariff_book(directory: str | Path) -> TariffBook:
    """Read every ``*.toml`` in ``directory`` and build the book (TariffTableError on any problem)."""
    folder = Path(directory)
    files = {path.name: path.read_bytes() for path in sorted(folder.glob("*.toml"))}
    if not files:
        raise TariffTableError(str(folder), "", "no tariff table files (*.toml) found")
    return parse_tariff_files(files)


def parse_tariff_files(files: Mapping[str, bytes | str]) -> TariffBook:
    """Build the book from file names and contents (used for bundles downloaded from the server)."""
    editions = [_parse_edition(name, content) for name, content in files.items()]
    chain = _order_chain(editions)
    _check_references(chain)
    boundaries = sorted(
        {ed.effective_from for ed in chain}
        | {since for ed in chain for since, *_ in ed.kbm_scales}
        | {since for ed in chain for since, _ in ed.kvs_groups}
        | {since for ed in chain for since, _ in ed.km_groups}
        | {ed.unfriendly[0] for ed in chain if ed.unfriendly}
    )
    for ed in chain:
        for since in [s for s, *_ in ed.kbm_scales] + [s for s, _ in ed.kvs_groups] + [s for s, _ in ed.km_groups]:
            if since < ed.effective_from:
                raise TariffTableError(
                    ed.file,
                    "effective_from",
                    f"a table cannot start ({since}) before its edition ({ed.effective_from})",
                )
    tariffs = tuple(_resolve(chain, day) for day in boundaries)
    return TariffBook(tuple(boundaries), tariffs)


def _order_chain(editions: list[_Edition]) -> list[_Edition]:
    by_id: dict[str, _Edition] = {}
    for ed in editions:
        if ed.id in by_id:
            raise TariffTableError(ed.file, "edition.id", f"edition {ed.id} is also defined in {by_id[ed.id].file}")
        by_id[ed.id] = ed
    bases = [ed for ed in editions if not ed.amends]
    if len(bases) != 1:
        names = ", ".join(ed.file for ed in bases) or "none"
        raise TariffTableError(
            editions[0].file,
            "edition.amends",
            f'exactly one base edition (amends = "") is needed, found: {names}',
        )
    children: dict[str, _Edition] = {}
    for ed in editions:
        if not ed.amends:
            continue
        parent = by_id.get(ed.amends)
        if parent is None:
            raise TariffTableError(ed.file, "edition.amends", f"amends unknown edition {ed.amends!r}")
        if ed.amends in children:
            raise TariffTableError(ed.file, "edition.amends", f"{children[ed.amends].file} already amends {ed.amends}")
        if ed.effective_from <= parent.effective_from:
            raise TariffTableError(
                ed.file, "edition.effective_from", f"must be after {parent.id} ({parent.effective_from})"
            )
        children[ed.amends] = ed
    chain = [bases[0]]
    while chain[-1].id in children:
        chain.append(children[chain[-1].id])
    if len(chain) != len(editions):
        orphan = next(ed for ed in editions if ed not in chain)
        raise TariffTableError(orphan.file, "edition.amends", "edition is not connected to the base edition")
    return chain


def _check_references(chain: list[_Edition]) -> None:
    known: dict[str, str] = {}
    for ed in chain:
        known.update(ed.sources)
        for path, key in ed.references:
            if key not in known:
                raise TariffTableError(ed.file, path, f"unknown source {key!r} (define it under [sources])")


@dataclass
class _Fold:
    """Tables in force on a day, gathered edition by edition (later editions override)."""

    formulas: dict[Formula, frozenset[str]] | None = None
    cap: tuple[Decimal, Decimal] | None = None
    corridors: dict[str, Corridor] = field(default_factory=dict)
    regions: dict[str, Region] | None = None
    foreign_kt: Row | None = None
    unfriendly: Unfriendly | None = None
    kbm_scale: tuple[tuple[str, ...], dict[str, Row]] | None = None
    kbm_start: str | None = None
    transitions: tuple[tuple[str, ...], dict[str, tuple[str, ...]]] | None = None
    kvs: dict[str, KvsGroup] = field(default_factory=dict)
    ko: tuple[Row, Row, Row] | None = None
    km: dict[str, KmGroup] = field(default_factory=dict)
    ks: tuple[dict[int, Row], frozenset[str]] | None = None
    kp: tuple[tuple[tuple[int, int, Row], ...], dict[int, Row], int, Row] | None = None
    kn: Row | None = None
    kpr: dict[str, Row] = field(default_factory=dict)

    def add(self, ed: _Edition, day: dt.date) -> None:
        """Apply one edition's tables that are in force on ``day``."""
        self.formulas = ed.formulas or self.formulas
        self.cap = ed.cap or self.cap
        self.corridors.update(ed.corridors)
        self.kpr.update(ed.kpr)
        if ed.regions is not None:
            self.regions = dict(ed.regions)
        self.foreign_kt = ed.foreign_kt or self.foreign_kt
        if ed.unfriendly and ed.unfriendly[0] <= day:
            self.unfriendly = ed.unfriendly[1]
        for since, order, rows in ed.kbm_scales:
            if since <= day:
                self.kbm_scale = (order, rows)
        self.kbm_start = ed.kbm_start_class or self.kbm_start
        self.transitions = ed.kbm_transitions or self.transitions
        self.kvs.update({group.name: group for since, group in ed.kvs_groups if since <= day})
        self.km.update({group.name: group for since, group in ed.km_groups if since <= day})
        self.ko = ed.ko or self.ko
        self.ks = ed.ks or self.ks
        self.kp = ed.kp or self.kp
        self.kn = ed.kn or self.kn
        if self.regions is not None:
            _apply_changes(ed, self.regions)


def _resolve(chain: list[_Edition], day: dt.date) -> Tariff:
    """Fold every edition in force on ``day`` into one validated Tariff."""
    active = [ed for ed in chain if ed.effective_from <= day]
    current = active[-1]
    fold = _Fold()
    for ed in active:
        fold.add(ed, day)
    required = {
        "formulas": fold.formulas,
        "cap": fold.cap,
        "corridors": fold.corridors or None,
        "territory.regions": fold.regions,
        "territory.foreign": fold.foreign_kt,
        "kbm.scales": fold.kbm_scale,
        "kbm.start_class": fold.kbm_start,
        "kbm.transitions": fold.transitions,
        "ko": fold.ko,
        "ks": fold.ks,
        "kp": fold.kp,
        "kn": fold.kn,
    }
    for what, value in required.items():
        if value is None:
            raise TariffTableError(
                current.file,
                what,
                f"no table in force on {day.isoformat()} (neither in this edition nor in the editions it amends)",
            )
    assert fold.formulas and fold.cap and fold.regions and fold.foreign_kt and fold.kbm_scale and fold.kbm_start
    assert fold.transitions and fold.ko and fold.ks and fold.kp and fold.kn
    order, kbm_rows = fold.kbm_scale
    _check_kbm(current.file, day, order=order, rows=kbm_rows, start=fold.kbm_start, table=fold.transitions[1])
    if not any("*" in group.categories for group in fold.kvs.values()):
        raise TariffTableError(current.file, "kvs.groups", f'no group for categories = ["*"] in force on {day}')
    for category in fold.corridors:
        if category not in fold.kpr:
            raise TariffTableError(current.file, f"kpr.{category}", f"missing: no КПр for category {category} on {day}")
    ks_months, ks_legal = fold.ks
    kp_days, kp_months, transit_days, kp_transit = fold.kp
    ko_limited, ko_unlimited, ko_legal = fold.ko
    return Tariff(
        version=current.id,
        title=current.title,
        effective_from=day,
        source_file=current.file,
        formulas=fold.formulas,
        cap_multiplier=fold.cap[0],
        cap_multiplier_with_kn=fold.cap[1],
        corridors=fold.corridors,
        regions=fold.regions,
        foreign_kt=fold.foreign_kt,
        unfriendly=fold.unfriendly,
        kbm_order=order,
        kbm=kbm_rows,
        kbm_start_class=fold.kbm_start,
        kbm_transitions={name: fold.transitions[1][name] for name in order},
        kvs=tuple(fold.kvs.values()),
        ko_limited=ko_limited,
        ko_unlimited=ko_unlimited,
        ko_legal_entity=ko_legal,
        km=tuple(fold.km.values()),
        ks_months=ks_months,
        ks_legal_entity_categories=ks_legal,
        kp_foreign_days=kp_days,
        kp_foreign_months=kp_months,
        kp_transit_max_days=transit_days,
        kp_transit=kp_transit,
        kn=fold.kn,
        kpr=fold.kpr,
    )


def _check_kbm(
    file: str,
    day: dt.date,
    *,
    order: tuple[str, ...],
    rows: dict[str, Row],
    start: str,
    table: dict[str, tuple[str, ...]],
) -> None:
    """The start class and every transition refer to classes of the scale in force; none is missing."""
    if start not in rows:
        raise TariffTableError(file, "kbm.start_class", f"unknown class {start!r} on {day}")
    for name in order:
        if name not in table:
            raise TariffTableError(
                file, f"kbm.transitions.{name}", f"missing: no transitions for class {name} on {day}"
            )
    for name, targets in table.items():
        if name not in rows:
            raise TariffTableError(file, f"kbm.transitions.{name}", f"unknown class {name!r}")
        for index, target in enumerate(targets):
            if target not in rows:
                raise TariffTableError(file, f"kbm.transitions.{name}[{index}]", f"unknown class {target!r}")


def _apply_changes(ed: _Edition, regions: dict[str, Region]) -> None:
    """Apply an edition's КТ row changes to ``regions`` (a fresh dict owned by the caller)."""
    for change in ed.changes:
        source = f"{ed.id}: {change.path}"
        region = regions.get(change.region)
        if region is None:
            if change.region_name is None:
                raise TariffTableError(
                    ed.file,
                    f"{change.path}.region",
                    f"unknown region {change.region} (give region_name to add it)",
                )
            region = Region(change.region, change.region_name, Row(None, "", source), {}, {})
        elif change.region_name is not None and change.region_name != region.name:
            raise TariffTableError(ed.file, f"{change.path}.region_name", f"region {change.region} is {region.name!r}")

        def row(label: str, change: _Change = change, source: str = source) -> Row:
            if change.kt is not None and change.multiplier is not None:
                return Row(
                    change.kt * change.multiplier,
                    f"{label} ({change.kt} × {change.multiplier})",
                    source,
                    change.confidence,
                )
            return Row(change.kt, label, source, change.confidence)

        localities = dict(region.localities)
        other = region.other
        if change.other:
            other = row(f"{region.name}, прочие населённые пункты")
        for name in change.localities:
            key = locality_key(name)
            if key not in localities:
                raise TariffTableError(
                    ed.file,
                    f"{change.path}.localities",
                    f"{name!r} is not a listed locality of region {change.region}",
                )
            localities[key] = row(f"{region.name}, {region.locality_names[key]}")
        regions[change.region] = replace(region, other=other, localities=localities)
