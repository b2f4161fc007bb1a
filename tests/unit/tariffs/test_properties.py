"""Properties of the engine and the contract parser over generated inputs (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kiosk.tariffs import TariffBook, TariffEngine, decode_json, parse_request, quote_to_json
from kiosk.validation import FieldError, full_years, parse_decimal, parse_iso_date
from tests.unit.tariffs.helpers import driver

FIRST_PRIVATE_CAR_DAY = dt.date(2022, 1, 9)
LAST_DAY = dt.date(2028, 12, 31)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def known_territories(book: TariffBook, day: dt.date) -> list[dict[str, str]]:
    """Every territory whose КТ is established on ``day``, as quote-contract territory objects."""
    tariff = book.for_date(day)
    out = []
    for code, region in tariff.regions.items():
        if region.other.known:
            out.append({"region_code": code, "locality": "Безымянный посёлок"})
        for key, row in region.localities.items():
            if row.known:
                out.append({"region_code": code, "locality": region.locality_names[key]})
    return out


@st.composite
def car_requests(draw: st.DrawFn, book: TariffBook) -> dict[str, Any]:
    """A valid request for a private car on any date the tables cover."""
    day = draw(st.dates(FIRST_PRIVATE_CAR_DAY, LAST_DAY))
    on = day.isoformat()
    classes = book.for_date(day).kbm_order
    drivers: Any
    request: dict[str, Any] = {
        "date": on,
        "vehicle": {"category": "B", "power_hp": draw(st.integers(1, 600)), "trailer": draw(st.booleans())},
        "territory": draw(st.sampled_from(known_territories(book, day))),
        "period_months": draw(st.integers(3, 12)),
        "violations": draw(st.booleans()),
    }
    if draw(st.booleans()):
        drivers = []
        for _ in range(draw(st.integers(1, 5))):
            age = draw(st.integers(16, 90))
            drivers.append(driver(on, age, draw(st.integers(0, age - 16)), draw(st.sampled_from(classes))))
        request["drivers"] = drivers
    else:
        request["drivers"] = "unlimited"
        request["owner_kbm_class"] = draw(st.sampled_from(classes))
    return request


@PROPERTY
@given(data=st.data())
def test_premium_is_positive_and_never_above_the_cap(engine: TariffEngine, data: st.DataObject) -> None:
    request = data.draw(car_requests(engine.book))
    result = quote_to_json(engine.quote(parse_request(request)))

    premium, cap = Decimal(result["premium"]), Decimal(result["cap"])
    assert premium > 0
    assert premium <= cap
    tb_kt = Decimal(result["coefficients"]["TB"]) * Decimal(result["coefficients"]["KT"])
    assert cap == tb_kt * (5 if request["violations"] else 3)


@PROPERTY
@given(data=st.data())
def test_premium_never_rises_as_the_kbm_class_improves(engine: TariffEngine, data: st.DataObject) -> None:
    request = data.draw(car_requests(engine.book))
    classes = engine.book.for_date(dt.date.fromisoformat(request["date"])).kbm_order
    assume(request["drivers"] == "unlimited" or len(request["drivers"]) == 1)

    premiums = []
    for kbm_class in classes:  # worst to best
        if request["drivers"] == "unlimited":
            request["owner_kbm_class"] = kbm_class
        else:
            request["drivers"][0]["kbm_class"] = kbm_class
        premiums.append(engine.quote(parse_request(request)).premium)

    assert premiums == sorted(premiums, reverse=True)


@PROPERTY
@given(data=st.data(), powers=st.lists(st.integers(1, 600), min_size=2, max_size=8))
def test_premium_never_falls_as_engine_power_grows(
    engine: TariffEngine, data: st.DataObject, powers: list[int]
) -> None:
    request = data.draw(car_requests(engine.book))

    premiums = []
    for hp in sorted(powers):
        request["vehicle"]["power_hp"] = hp
        premiums.append(engine.quote(parse_request(request)).premium)

    assert premiums == sorted(premiums)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
KEYS = st.sampled_from(
    [
        "date",
        "owner",
        "vehicle",
        "territory",
        "base_rate",
        "period_months",
        "period_days",
        "drivers",
        "owner_kbm_class",
        "violations",
    ]
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(KEYS, JSON, max_size=10))
def test_any_json_object_is_priced_or_refused_with_a_field_error(engine: TariffEngine, doc: dict[str, Any]) -> None:
    try:
        engine.quote(parse_request(doc))
    except FieldError as error:
        assert error.message
        assert isinstance(error.field, str)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_is_decoded_or_refused_with_a_field_error(text: str) -> None:
    try:
        assert isinstance(decode_json(text), dict)
    except FieldError as error:
        assert error.field == "$"


@given(value=JSON)
def test_date_and_number_parsers_fail_only_with_field_errors(value: object) -> None:
    for parse in (parse_iso_date, parse_decimal):
        try:
            parse(value, "x")
        except FieldError as error:
            assert error.field == "x"


@given(start=st.dates(dt.date(1900, 1, 1), dt.date(2090, 12, 31)), years=st.integers(0, 100))
def test_full_years_counts_anniversaries(start: dt.date, years: int) -> None:
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February → 1 March in a common year
        anniversary = dt.date(start.year + years, 3, 1)

    assert full_years(start, anniversary) == years
    assert full_years(start, anniversary - dt.timedelta(days=1)) == years - 1
