"""The quote contract refuses what is not a number, not finite, absurd or too big — always in its own shape.

``kiosk.cli.quote.answer`` is what ``osago-kiosk quote`` prints for a request's bytes: the properties
below feed it any JSON (and hostile values at every path of a valid request) and accept only a quote
with exit 0 or ``{"error": <text>, "field": <path>}`` with exit 2 — never an exception.
"""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.cli.quote import MAX_REQUEST_BYTES, answer, read_request
from kiosk.tariffs import TariffEngine, parse_request
from kiosk.validation import FieldError

VALID: dict[str, Any] = {
    "date": "2026-12-01",
    "owner": {"type": "individual"},
    "vehicle": {"category": "B", "power_hp": 150, "purpose": "personal", "trailer": False, "registered": "RU"},
    "territory": {"region_code": "77", "locality": "Москва"},
    "period_months": 12,
    "drivers": [{"birth_date": "1981-03-15", "licence_date": "2006-05-20", "kbm_class": "13"}],
    "violations": False,
}
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def request(**changes: Any) -> dict[str, Any]:
    """VALID with dotted paths replaced, e.g. ``request(**{"vehicle.power_hp": "150"})``."""
    doc = copy.deepcopy(VALID)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    return doc


def refusal(engine: TariffEngine, text: str) -> dict[str, Any]:
    code, payload = answer(text.encode("utf-8", "surrogatepass"), engine)
    assert code == 2, payload
    assert set(payload) == {"error", "field"}
    return payload


def test_the_valid_request_is_priced(engine: TariffEngine) -> None:
    code, payload = answer(json.dumps(VALID).encode(), engine)

    assert code == 0 and payload["premium"]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('"150"', "vehicle.power_hp", "а не строка"),
        ("true", "vehicle.power_hp", "а не true"),
        ("1e400", "vehicle.power_hp", "не больше 15000"),
        ("1e-400", "vehicle.power_hp", "знаков после запятой"),
        ("-150", "vehicle.power_hp", "больше нуля"),
        ("0", "vehicle.power_hp", "больше нуля"),
        ("150.123", "vehicle.power_hp", "знаков после запятой"),
        ("1" * 5000, "$", "JSON"),  # Python refuses to parse a 5000-digit integer: malformed, not a crash
        ("9" * 400, "vehicle.power_hp", "не больше"),
        ("NaN", "$", "NaN"),
        ("Infinity", "$", "Infinity"),
        ("[150]", "vehicle.power_hp", "нужно число"),
        ('{"hp": 150}', "vehicle.power_hp", "нужно число"),
    ],
)
def test_power_must_be_a_plain_finite_number_of_a_real_engine(
    engine: TariffEngine, text: str, field: str, words: str
) -> None:
    doc = json.dumps(request(**{"vehicle.power_hp": "@"})).replace('"@"', text)

    error = refusal(engine, doc)

    assert error["field"] == field
    assert words in error["error"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_months": "12"}, "period_months"),
        ({"period_months": 12.5}, "period_months"),
        ({"period_months": True}, "period_months"),
        ({"period_months": 10**100}, "period_months"),
        ({"period_days": "15"}, "period_days"),
        ({"period_days": 10**30}, "period_days"),
        ({"vehicle.power_kw": "81", "vehicle.power_hp": None}, "vehicle.power_kw"),
        ({"vehicle.power_kw": 1e300, "vehicle.power_hp": None}, "vehicle.power_kw"),
        ({"vehicle.category": "C", "vehicle.max_mass_kg": "12000"}, "vehicle.max_mass_kg"),
        ({"vehicle.category": "C", "vehicle.max_mass_kg": 10**12}, "vehicle.max_mass_kg"),
        ({"vehicle.category": "D", "vehicle.seats": 20.5}, "vehicle.seats"),
        ({"vehicle.category": "D", "vehicle.seats": False}, "vehicle.seats"),
        ({"territory": {"kt": "１.８"}}, "territory.kt"),
        ({"territory": {"kt": "1e400"}}, "territory.kt"),
        ({"territory": {"kt": "1.23456789"}}, "territory.kt"),
        ({"territory": {"kt": True}}, "territory.kt"),
        ({"territory": {"region_code": "７７", "locality": "Москва"}}, "territory.region_code"),
        ({"territory": {"region_code": 10**5000, "locality": "Москва"}}, "territory.region_code"),
        ({"base_rate": "８６６５"}, "base_rate"),
        ({"base_rate": "8665.001"}, "base_rate"),
        ({"base_rate": 1e-400}, "base_rate"),
        ({"base_rate": 10**400}, "base_rate"),
        ({"drivers": [{"birth_date": "1981-03-15", "licence_date": "2006-05-20", "kbm_class": 10**5000}]},
         "drivers[0].kbm_class"),
        ({"date": "２０２６-１２-０１"}, "date"),
    ],
)  # fmt: skip
def test_every_number_of_the_contract_is_refused_when_it_is_text_boolean_or_absurd(
    engine: TariffEngine, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(FieldError) as refused:
        engine.quote(parse_request(request(**changes)))

    assert refused.value.field == field


def test_coefficients_and_money_may_be_written_as_digits_in_a_string(engine: TariffEngine) -> None:
    as_numbers = engine.quote(parse_request(request(territory={"kt": Decimal("1.8")}, base_rate=8665)))
    as_text = engine.quote(parse_request(request(territory={"kt": "1.8"}, base_rate="8665")))

    assert as_numbers.premium == as_text.premium


def test_a_lone_surrogate_quoted_back_is_still_one_json_line(engine: TariffEngine) -> None:
    error = refusal(engine, json.dumps(request(**{"vehicle.category": "\ud800"})))

    assert error["field"] == "vehicle.category"


def test_a_request_over_the_limit_is_refused_after_reading_one_byte_more() -> None:
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.given = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            view = memoryview(buffer)
            view[:] = b" " * len(view)
            self.given += len(view)
            return len(view)

    source = Endless()
    stream = io.BufferedReader(source, buffer_size=8192)

    assert read_request(stream) is None
    assert source.given <= MAX_REQUEST_BYTES + 8192
    assert read_request(io.BytesIO(b" " * MAX_REQUEST_BYTES)) == b" " * MAX_REQUEST_BYTES


def test_bytes_that_are_not_utf8_are_refused_for_the_whole_document(engine: TariffEngine) -> None:
    code, payload = answer(b"\xff\xfe{}", engine)

    assert (code, payload["field"]) == (2, "$")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**320)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.sampled_from([Decimal("1E+400"), Decimal("1E-400"), Decimal("-0"), Decimal("1E+999999")])
    | st.text(max_size=20)
    | st.sampled_from(["150", "１５０", "1e400", "NaN", "\ud800", "unlimited", "M", "B", "77", "2026-12-01"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
PATHS = [
    "date", "owner", "owner.type", "vehicle", "vehicle.category", "vehicle.power_hp", "vehicle.power_kw",
    "vehicle.purpose", "vehicle.trailer", "vehicle.registered", "vehicle.unfriendly_state", "vehicle.max_mass_kg",
    "vehicle.seats", "territory", "territory.region_code", "territory.locality", "territory.kt", "base_rate",
    "period_months", "period_days", "drivers", "owner_kbm_class", "violations",
]  # fmt: skip


def _json_text(value: Any) -> str:
    """JSON text with decimals as number tokens (``1E+400``), as a hostile client would write it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)  # ASCII with \u escapes: a lone surrogate arrives as valid JSON text


def _encode(doc: Any) -> bytes:
    return _json_text(doc).encode("ascii")


def _assert_contract_shape(code: int, payload: dict[str, Any]) -> None:
    if code == 0:
        assert isinstance(payload["premium"], str)
    else:
        assert code == 2
        assert set(payload) == {"error", "field"}
        assert isinstance(payload["error"], str) and payload["error"]
        assert isinstance(payload["field"], str)
    json.dumps(payload)  # the CLI can always print it (ASCII-escaped when the text holds a surrogate)


@PROPERTY
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_value_at_any_path_of_a_valid_request_is_priced_or_refused_in_the_contract_shape(
    engine: TariffEngine, path: str, value: Any
) -> None:
    doc = request(**{path: value})
    code, payload = answer(_encode(doc), engine)

    _assert_contract_shape(code, payload)


@PROPERTY
@given(doc=JSON)
def test_any_json_document_is_priced_or_refused_in_the_contract_shape(engine: TariffEngine, doc: Any) -> None:
    code, payload = answer(_encode(doc), engine)

    _assert_contract_shape(code, payload)


@PROPERTY
@given(data=st.binary(max_size=300))
def test_any_bytes_are_refused_in_the_contract_shape(engine: TariffEngine, data: bytes) -> None:
    code, payload = answer(data, engine)

    _assert_contract_shape(code, payload)
