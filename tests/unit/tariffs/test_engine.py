"""Rules of the premium formula, one test each, through the quote contract."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kiosk.tariffs import TariffEngine, parse_request, quote_to_json
from kiosk.validation import FieldError
from tests.unit.tariffs.helpers import driver

DAY = "2026-03-01"


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "date": DAY,
        "vehicle": {"category": "B", "power_hp": 110},
        "territory": {"region_code": "77"},
        "drivers": [driver(DAY, 40, 15, "5")],
    }
    base.update(overrides)
    return base


def quote(engine: TariffEngine, **overrides: Any) -> dict[str, Any]:
    return quote_to_json(engine.quote(parse_request(request(**overrides))))


def refusal(engine: TariffEngine, **overrides: Any) -> FieldError:
    with pytest.raises(FieldError) as error:
        engine.quote(parse_request(request(**overrides)))
    return error.value


def test_limited_list_takes_worst_kbm_and_worst_kvs_from_different_drivers(engine: TariffEngine) -> None:
    result = quote(engine, drivers=[driver(DAY, 50, 30, "M"), driver(DAY, 20, 2, "13")])

    details = {d["code"]: d for d in result["details"]}
    assert (result["coefficients"]["KBM"], details["KBM"]["driver"]) == ("3.92", 0)
    assert (result["coefficients"]["KVS"], details["KVS"]["driver"]) == ("1.84", 1)


def test_unlimited_list_uses_ko_2_32_owner_kbm_and_no_kvs(engine: TariffEngine) -> None:
    result = quote(engine, drivers="unlimited", owner_kbm_class="8")

    assert result["coefficients"]["KO"] == "2.32"
    assert result["coefficients"]["KBM"] == "0.74"
    assert result["coefficients"]["KVS"] == "1"
    assert next(d for d in result["details"] if d["code"] == "KVS")["applied"] is False


def test_legal_entity_pays_ko_1_97_without_kvs(engine: TariffEngine) -> None:
    result = quote(engine, owner={"type": "legal_entity"}, drivers="unlimited", owner_kbm_class="4")

    assert result["category"] == "B_LEGAL"
    assert result["coefficients"]["KO"] == "1.97"
    assert result["coefficients"]["KVS"] == "1"


def test_legal_entity_cannot_have_a_limited_driver_list(engine: TariffEngine) -> None:
    assert refusal(engine, owner={"type": "legal_entity"}).field == "drivers"


def test_kilowatts_are_converted_to_horsepower_before_the_band_lookup(engine: TariffEngine) -> None:
    # 110 kW = 149.56 hp → 1.4, although 110 would be in the 100–120 hp band.
    assert quote(engine, vehicle={"category": "B", "power_kw": 110})["coefficients"]["KM"] == "1.4"


@pytest.mark.parametrize(
    ("hp", "km"),
    [(50, "0.6"), (50.01, "1"), (70, "1"), (100, "1.1"), (120, "1.2"), (150, "1.4"), (151, "1.6")],
)
def test_power_band_edges_are_inclusive_upwards(engine: TariffEngine, hp: float, km: str) -> None:
    assert quote(engine, vehicle={"category": "B", "power_hp": hp})["coefficients"]["KM"] == km


def test_trucks_have_no_km_and_need_no_power(engine: TariffEngine) -> None:
    result = quote(engine, vehicle={"category": "C", "max_mass_kg": 12000})

    assert result["category"] == "C_LE16"
    assert result["coefficients"]["KM"] == "1"


@pytest.mark.parametrize(("months", "ks"), [(3, "0.5"), (6, "0.7"), (9, "0.95"), (10, "1"), (12, "1")])
def test_period_of_use_sets_ks(engine: TariffEngine, months: int, ks: str) -> None:
    assert quote(engine, period_months=months)["coefficients"]["KS"] == ks


def test_period_of_use_shorter_than_three_months_is_refused_for_a_russian_car(engine: TariffEngine) -> None:
    assert refusal(engine, period_months=2).field == "period_months"


def test_legal_entity_car_cannot_have_a_seasonal_period(engine: TariffEngine) -> None:
    error = refusal(engine, owner={"type": "legal_entity"}, drivers="unlimited", owner_kbm_class="4", period_months=6)

    assert error.field == "period_months"


def test_trailer_raises_premium_of_a_legal_entity_car_but_not_an_individuals(engine: TariffEngine) -> None:
    individual = quote(engine, vehicle={"category": "B", "power_hp": 110, "trailer": True})
    legal = quote(
        engine, owner={"type": "legal_entity"}, drivers="unlimited", owner_kbm_class="4",
        vehicle={"category": "B", "power_hp": 110, "trailer": True},
    )  # fmt: skip

    assert individual["coefficients"]["KPr"] == "1"
    assert legal["coefficients"]["KPr"] == "1.16"


def test_gross_violations_apply_kn_and_raise_the_cap_to_five_times(engine: TariffEngine) -> None:
    plain = quote(engine, drivers=[driver(DAY, 19, 0, "M")])
    violator = quote(engine, drivers=[driver(DAY, 19, 0, "M")], violations=True)

    tb_kt = Decimal(plain["coefficients"]["TB"]) * Decimal(plain["coefficients"]["KT"])
    assert plain["capped"] and Decimal(plain["premium"]) == 3 * tb_kt
    assert violator["coefficients"]["KN"] == "1.5"
    assert violator["capped"] and Decimal(violator["premium"]) == 5 * tb_kt


def test_foreign_car_uses_kt_1_7_and_kp_by_days_instead_of_ks(engine: TariffEngine) -> None:
    result = quote(
        engine,
        vehicle={"category": "B", "power_hp": 110, "registered": "foreign"},
        territory=None,
        period_days=20,
    )

    assert result["coefficients"]["KT"] == "1.7"
    assert result["coefficients"]["KP"] == "0.3"
    assert result["coefficients"]["KS"] == "1"


def test_foreign_truck_from_an_unfriendly_state_pays_kt_30_but_a_car_1_7(engine: TariffEngine) -> None:
    truck = quote(
        engine, territory=None, period_months=1,
        vehicle={"category": "C", "max_mass_kg": 30000, "registered": "foreign", "unfriendly_state": True},
    )  # fmt: skip
    car = quote(
        engine,
        territory=None,
        period_months=1,
        vehicle={"category": "B", "power_hp": 90, "registered": "foreign", "unfriendly_state": True},
    )

    assert truck["coefficients"]["KT"] == "30"
    assert car["coefficients"]["KT"] == "1.7"


def test_unfriendly_state_kt_does_not_exist_before_2026(engine: TariffEngine) -> None:
    error = refusal(
        engine, date="2025-12-20", territory=None, period_months=1, drivers=[driver("2025-12-20", 40, 15, "5")],
        vehicle={"category": "C", "max_mass_kg": 30000, "registered": "foreign", "unfriendly_state": True},
    )  # fmt: skip

    assert error.field == "vehicle.unfriendly_state"


def test_transit_to_registration_applies_neither_kt_nor_kbm(engine: TariffEngine) -> None:
    result = quote(
        engine,
        vehicle={"category": "B", "power_hp": 110, "registered": "transit"},
        territory=None,
        period_days=10,
    )

    assert result["coefficients"]["KT"] == "1"
    assert result["coefficients"]["KBM"] == "1"
    assert result["coefficients"]["KP"] == "0.2"


def test_transit_longer_than_twenty_days_is_refused(engine: TariffEngine) -> None:
    error = refusal(
        engine,
        vehicle={"category": "B", "power_hp": 110, "registered": "transit"},
        territory=None,
        period_days=21,
    )

    assert error.field == "period_days"


@pytest.mark.parametrize("spelling", ["Новосибирск", "г. Новосибирск", "  новосибирск ", "город Новосибирск"])
def test_locality_is_found_whatever_the_spelling(engine: TariffEngine, spelling: str) -> None:
    result = quote(engine, territory={"region_code": 54, "locality": spelling})

    assert result["coefficients"]["KT"] == "3.12"


def test_unlisted_settlement_takes_the_regions_other_settlements_kt(engine: TariffEngine) -> None:
    assert quote(engine, territory={"region_code": "54", "locality": "Карасук"})["coefficients"]["KT"] == "1.88"


def test_locality_is_required_where_the_region_lists_cities(engine: TariffEngine) -> None:
    assert refusal(engine, territory={"region_code": "54"}).field == "territory.locality"


def test_region_whose_kt_is_not_established_is_not_priced(engine: TariffEngine) -> None:
    error = refusal(engine, territory={"region_code": "05", "locality": "Кизляр"})

    assert error.field == "territory"
    assert "не установлен" in error.message


def test_motorcycle_between_50_and_90_hp_is_not_priced_after_the_2025_tables(engine: TariffEngine) -> None:
    error = refusal(engine, vehicle={"category": "A", "power_hp": 70}, drivers="unlimited", owner_kbm_class="4")

    assert error.field == "vehicle.power_hp"


def test_motorcycle_with_a_limited_list_is_not_priced_without_the_motorcycle_kvs_table(
    engine: TariffEngine,
) -> None:
    assert refusal(engine, vehicle={"category": "A", "power_hp": 40}).field == "drivers"


def test_motorcycle_before_the_2025_tables_used_the_common_kvs_and_no_km(engine: TariffEngine) -> None:
    day = "2025-03-01"
    result = quote(engine, date=day, vehicle={"category": "A", "power_hp": 70}, drivers=[driver(day, 40, 15, "5")])

    assert result["coefficients"]["KM"] == "1"
    assert result["coefficients"]["KVS"] == "0.91"


def test_premium_is_rounded_once_to_kopecks_half_up(engine: TariffEngine) -> None:
    result = quote(engine, territory={"kt": "0.68"}, base_rate="1399", period_months=3, vehicle={"category": "B", "power_hp": 45},
                   drivers=[driver(DAY, 65, 40, "13")])  # fmt: skip

    assert result["premium_uncapped"] == "108.96419280"
    assert result["premium"] == "108.96"


def test_tariff_version_is_the_edition_in_force_on_the_contract_date(engine: TariffEngine) -> None:
    day = "2024-06-01"
    assert quote(engine, date=day, drivers=[driver(day, 40, 15, "5")])["tariff_version"] == "6209-U"


def test_price_explanation_names_the_driver_each_coefficient_came_from(engine: TariffEngine) -> None:
    result = engine.quote(parse_request(request(drivers=[driver(DAY, 50, 30, "13"), driver(DAY, 20, 1, "3")])))

    lines = result.explanation()
    assert any(line.startswith("КБМ") and "водитель 2" in line for line in lines)
    assert any(line.startswith("КТ") and "Москва" in line for line in lines)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"vehicle": {"category": "Q", "power_hp": 100}}, "vehicle.category"),
        ({"vehicle": {"category": "B", "power_hp": 0}}, "vehicle.power_hp"),
        ({"vehicle": {"category": "B", "power_hp": -5}}, "vehicle.power_hp"),
        ({"vehicle": {"category": "B", "power_kw": 0}}, "vehicle.power_kw"),
        ({"vehicle": {"category": "B"}}, "vehicle.power_hp"),
        ({"drivers": [driver(DAY, 15, 0, "3")]}, "drivers[0].birth_date"),
        (
            {
                "drivers": [
                    driver(DAY, 40, 15, "5"),
                    {**driver(DAY, 30, 0, "3"), "licence_date": "2008-01-01"},
                ]
            },
            "drivers[1].licence_date",
        ),
        ({"drivers": [{**driver(DAY, 30, 5, "3"), "licence_date": "2027-01-01"}]}, "drivers[0].licence_date"),
        ({"drivers": [driver(DAY, 40, 15, "14")]}, "drivers[0].kbm_class"),
        ({"drivers": []}, "drivers"),
        ({"drivers": [driver(DAY, 40, 15, "5")] * 6}, "drivers"),
        ({"date": "2021-12-31"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "01.03.2026"}, "date"),
        ({"territory": {"region_code": "00"}}, "territory.region_code"),
        ({"territory": None}, "territory"),
        ({"base_rate": "9000"}, "base_rate"),
        ({"drivers": "unlimited"}, "owner_kbm_class"),
        ({"owner": {"type": "alien"}}, "owner.type"),
        ({"vehicle": {"category": "C"}}, "vehicle.max_mass_kg"),
        ({"vehicle": {"category": "D"}}, "vehicle.seats"),
        ({"vehicle": {"category": "B", "power_hp": 100, "purpose": "racing"}}, "vehicle.purpose"),
        ({"vehicle": {"category": "B", "power_hp": 100, "trailer": "yes"}}, "vehicle.trailer"),
        ({"vehicle": {"category": "TRACTOR"}}, "vehicle.category"),
    ],
)
def test_bad_input_is_refused_naming_the_field(engine: TariffEngine, overrides: dict[str, Any], field: str) -> None:
    error = refusal(engine, **overrides)

    assert error.field == field
    assert error.message and error.message[0].isupper()
