"""The loader accepts the shipped tables, picks the edition in force, and rejects corrupted tables
with an error that names the file and the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kiosk.tariffs import TariffBook, TariffTableError, parse_base_rates, parse_tariff_files
from tests.unit.tariffs.conftest import CONFIG

SHIPPED = {path.name: path.read_text(encoding="utf-8") for path in sorted((CONFIG / "tariffs").glob("*.toml"))}
BASE_RATES = (CONFIG / "base_rates.toml").read_text(encoding="utf-8")


def corrupted(file: str, old: str, new: str) -> dict[str, str]:
    """The shipped files with one text replacement in ``file`` (which must apply exactly once)."""
    assert SHIPPED[file].count(old) == 1, f"{old!r} must occur once in {file}"
    return {**SHIPPED, file: SHIPPED[file].replace(old, new)}


def test_shipped_tables_load_into_editions_by_date() -> None:
    book = parse_tariff_files(SHIPPED)

    assert book.current_versions == ("6007-U", "6209-U", "6949-U", "7204-U")
    assert book.for_date(dt.date(2022, 3, 31)).kbm["M"].value == Decimal("2.45")
    assert book.for_date(dt.date(2022, 4, 1)).kbm["M"].value == Decimal("3.92")
    assert book.for_date(dt.date(2022, 9, 12)).version == "6007-U"
    assert book.for_date(dt.date(2022, 9, 13)).version == "6209-U"
    assert book.for_date(dt.date(2025, 12, 8)).version == "6949-U"
    assert book.for_date(dt.date(2025, 12, 9)).version == "7204-U"


def test_the_edition_in_force_changes_on_its_first_day_not_before() -> None:
    book = parse_tariff_files(SHIPPED)

    assert book.for_date(dt.date(2025, 12, 8)).corridors["B_IND"].max == Decimal("7535")
    assert book.for_date(dt.date(2025, 12, 9)).corridors["B_IND"].max == Decimal("8665")


def test_amendments_restate_only_what_they_change() -> None:
    book = parse_tariff_files(SHIPPED)
    tariff = book.for_date(dt.date(2025, 6, 1))

    assert tariff.corridors["AM"].max == Decimal("3043")  # changed by 6949-U
    assert tariff.corridors["B_TAXI"].max == Decimal("15756")  # carried from 6209-U
    assert tariff.ko_unlimited.value == Decimal("2.32")  # carried from 6007-U


def test_motorcycle_tables_of_6949_u_start_on_their_own_date() -> None:
    book = parse_tariff_files(SHIPPED)

    before, after = book.for_date(dt.date(2025, 4, 16)), book.for_date(dt.date(2025, 4, 17))

    assert before.km_group("AM") is None and before.kvs_group("AM").table is not None
    assert after.km_group("AM") is not None and after.kvs_group("AM").table is None


def test_territory_changes_accumulate_and_apply_the_correction_multiplier() -> None:
    book = parse_tariff_files(SHIPPED)

    def novosibirsk(day: dt.date) -> Decimal | None:
        return book.for_date(day).regions["54"].localities["новосибирск"].value

    assert novosibirsk(dt.date(2022, 5, 1)) == Decimal("1.63")
    assert novosibirsk(dt.date(2025, 6, 1)) == Decimal("1.56")
    assert novosibirsk(dt.date(2025, 12, 9)) == Decimal("3.12")
    assert book.for_date(dt.date(2022, 9, 13)).regions["05"].other.value is None  # replaced, value unknown


def test_a_date_before_every_edition_is_refused() -> None:
    book = parse_tariff_files(SHIPPED)

    with pytest.raises(LookupError):
        book.for_date(dt.date(2022, 1, 8))


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "message"),
    [
        pytest.param(
            "6007-U.toml",
            '{ above = "70", up_to = "100", km = "1.1" },\n',
            "",
            "km.groups[0].bands[2].above",
            "missing band",
            id="missing-power-band",
        ),
        pytest.param(
            "6007-U.toml",
            '{ above = "100", up_to = "120", km = "1.2" }',
            '{ above = "90", up_to = "120", km = "1.2" }',
            "km.groups[0].bands[3].above",
            "overlapping power bands",
            id="overlapping-power-bands",
        ),
        pytest.param(
            "6007-U.toml",
            '{ above = "150", up_to = "", km = "1.6" }',
            '{ above = "150", up_to = "300", km = "1.6" }',
            "km.groups[0].bands[5].up_to",
            "missing band",
            id="last-power-band-closed",
        ),
        pytest.param(
            "6007-U.toml",
            '"13" = ["13", "7", "3", "1", "M"]',
            '"13" = ["13", "7", "3", "1", "Z"]',
            "kbm.transitions.13[4]",
            "unknown class",
            id="unknown-kbm-class-in-transitions",
        ),
        pytest.param(
            "6007-U.toml",
            '"13" = ["13", "7", "3", "1", "M"]\n',
            "",
            "kbm.transitions.13",
            "missing",
            id="missing-kbm-transition-row",
        ),
        pytest.param(
            "6007-U.toml",
            'start_class = "3"',
            'start_class = "X"',
            "kbm.start_class",
            "unknown class",
            id="unknown-start-class",
        ),
        pytest.param(
            "6007-U.toml",
            'limited = "1"',
            "limited = 1.0",
            "ko.limited",
            "as a string",
            id="float-instead-of-string",
        ),
        pytest.param(
            "6007-U.toml",
            'unlimited = "2.32"',
            'unlimited = "-2.32"',
            "ko.unlimited",
            "positive",
            id="negative-coefficient",
        ),
        pytest.param(
            "6007-U.toml",
            "[kn]\nvalue",
            '[kn]\nvalu = "1"\nvalue',
            "kn.valu",
            "unknown key",
            id="unknown-key",
        ),
        pytest.param(
            "6007-U.toml",
            'months = { "3" = "0.5", "4" = "0.6", "5" = "0.65", "6" = "0.7",',
            'months = { "3" = "0.5", "4" = "0.6", "5" = "0.65",',
            "ks.months",
            "no value for 6 months",
            id="missing-season-month",
        ),
        pytest.param(
            "6007-U.toml",
            "experience_from = [0, 1, 2, 3, 5, 7, 10, 15]",
            "experience_from = [0, 1, 2, 5, 3, 7, 10, 15]",
            "kvs.groups[0].experience_from[4]",
            "must increase",
            id="unordered-experience-bands",
        ),
        pytest.param(
            "6007-U.toml",
            '  ["1.43", "1.36", "1.35", "0.91", "0.9", "0.89", "0.88", "0.83"],\n',
            "",
            "kvs.groups[0].table",
            "expected 8 rows",
            id="missing-kvs-row",
        ),
        pytest.param(
            "6007-U.toml",
            "[kpr]\nAM",
            '[kpr]\nXX = "1"\nAM',
            "kpr.XX",
            "unknown tariff category",
            id="unknown-category",
        ),
        pytest.param(
            "6007-U.toml",
            'B_IND = "1"\n',
            "",
            "kpr.B_IND",
            "no КПр for category B_IND",
            id="missing-kpr-for-a-sold-category",
        ),
        pytest.param(
            "6209-U.toml",
            'min = "1646"\nmax = "7535"',
            'min = "7535"\nmax = "1646"',
            "corridors.B_IND",
            "above max",
            id="inverted-corridor",
        ),
        pytest.param(
            "6209-U.toml",
            'amends = "6007-U"',
            'amends = "5515-U"',
            "edition.amends",
            "unknown edition",
            id="amends-unknown-edition",
        ),
        pytest.param(
            "7204-U.toml",
            'localities = ["Бердск"]',
            'localities = ["Бердичев"]',
            "territory.changes[1].localities",
            "not a listed locality",
            id="change-to-unknown-locality",
        ),
        pytest.param(
            "6949-U.toml",
            'sources = ["S_cbr_6949_news"]\n\n[corridors.D_ROUTE]',
            'sources = ["S_nowhere"]\n\n[corridors.D_ROUTE]',
            "corridors.C_LE16.sources[0]",
            "unknown source",
            id="unknown-source",
        ),
        pytest.param(
            "6007-U.toml",
            'code = "77"',
            'code = "78"',
            "territory.regions[78].code",
            "listed twice",
            id="duplicate-region",
        ),
        pytest.param(
            "6007-U.toml",
            "schema = 1",
            "schema = 2",
            "schema",
            "expected schema",
            id="unknown-schema",
        ),
        pytest.param(
            "6007-U.toml",
            "[cap]\nmultiplier",
            "[cap]\nmultiplier = [\nmultiplier",
            "",
            "not valid TOML",
            id="broken-toml",
        ),
    ],
)
def test_loader_rejects_corrupted_table_naming_file_and_field(
    file: str, old: str, new: str, field: str, message: str
) -> None:
    with pytest.raises(TariffTableError) as error:
        parse_tariff_files(corrupted(file, old, new))

    assert error.value.file == file
    assert error.value.field == field
    assert message in error.value.message
    assert str(error.value).startswith(f"{file}: ")


def test_two_base_editions_are_refused() -> None:
    files = corrupted("6209-U.toml", 'amends = "6007-U"', 'amends = ""')

    with pytest.raises(TariffTableError, match="exactly one base edition"):
        parse_tariff_files(files)


def test_an_edition_amended_twice_is_refused() -> None:
    files = corrupted("7204-U.toml", 'amends = "6949-U"', 'amends = "6209-U"')

    with pytest.raises(TariffTableError, match="already amends"):
        parse_tariff_files(files)


@pytest.fixture(scope="module")
def shipped_book() -> TariffBook:
    return parse_tariff_files(SHIPPED)


def test_shipped_base_rates_lie_inside_every_corridor(shipped_book: TariffBook) -> None:
    rates = parse_base_rates("base_rates.toml", BASE_RATES, shipped_book)

    row = rates.rate(dt.date(2026, 6, 1), "B_IND", "77")
    assert row is not None and row.value == Decimal("8665")
    assert rates.rate(dt.date(2026, 6, 1), "B_IND", "63") is not None
    assert rates.rate(dt.date(2026, 6, 1), "TRACTOR", None) is None


def test_base_rate_above_the_corridor_is_a_load_error(shipped_book: TariffBook) -> None:
    text = BASE_RATES.replace(
        'rates = { B_IND = "8665", B_TAXI = "18119" }', 'rates = { B_IND = "8666", B_TAXI = "18119" }'
    )

    with pytest.raises(TariffTableError) as error:
        parse_base_rates("base_rates.toml", text, shipped_book)

    assert error.value.field == "periods[3].regional[77].rates.B_IND"
    assert "outside the corridor" in error.value.message


def test_base_rate_is_checked_against_every_edition_its_period_spans(shipped_book: TariffBook) -> None:
    # 8000 fits the 2025-12-09 corridor (1399–8665) but a period starting in 2025-06 also spans 6949-U (max 7535).
    text = BASE_RATES.replace("effective_from = 2025-12-09\nrates = { AM = \"4000\", B_IND = \"7900\"",
                              "effective_from = 2025-06-01\nrates = { AM = \"3000\", B_IND = \"8000\"")  # fmt: skip

    with pytest.raises(TariffTableError, match=r"periods\[3\]"):
        parse_base_rates("base_rates.toml", text, shipped_book)


def test_base_rate_for_a_category_without_corridor_is_a_load_error(shipped_book: TariffBook) -> None:
    text = BASE_RATES.replace('rates = { B_IND = "5500" }', 'rates = { B_IND = "5500", AM = "1000" }')

    with pytest.raises(TariffTableError, match="sets no corridor for AM"):
        parse_base_rates("base_rates.toml", text, shipped_book)
