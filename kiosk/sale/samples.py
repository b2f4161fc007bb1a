"""Sample customers for the headless demo, the benchmark and tests: varied, valid, deterministic.

Invented people; a few licences are in the insurer simulator's dataset, so their КБМ comes back
from the look-up as it would from АИС ОСАГО.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from kiosk.sale.model import DriverEntry, Person, SaleInput, VehicleEntry
from kiosk.validation import PLATE_LETTERS, VIN_ALPHABET

__all__ = ["sample_customer", "sample_customers"]

_MEN = [
    ("Иванов", "Иван", "Иванович"),
    ("Петров", "Сергей", "Алексеевич"),
    ("Смирнов", "Дмитрий", "Олегович"),
    ("Кузнецов", "Андрей", "Викторович"),
    ("Соколов", "Павел", "Николаевич"),
    ("Попов", "Михаил", "Юрьевич"),
]
_WOMEN = [
    ("Иванова", "Мария", "Сергеевна"),
    ("Петрова", "Анна", "Игоревна"),
    ("Смирнова", "Елена", "Павловна"),
    ("Васильева", "Ольга", "Андреевна"),
    ("Новикова", "Татьяна", "Михайловна"),
]
_PLACES = [
    ("77", "Москва", "г. Москва, ул. Тверская, д. 7, кв. 12"),
    ("78", "Санкт-Петербург", "г. Санкт-Петербург, Невский пр., д. 20, кв. 5"),
    ("50", "Химки", "Московская обл., г. Химки, ул. Ленина, д. 3, кв. 40"),
    ("16", "Казань", "г. Казань, ул. Баумана, д. 15, кв. 8"),
    ("66", "Екатеринбург", "г. Екатеринбург, ул. Малышева, д. 30, кв. 77"),
    ("63", "Самара", "г. Самара, ул. Куйбышева, д. 90, кв. 3"),
    ("54", "Новосибирск", "г. Новосибирск, Красный пр., д. 25, кв. 14"),
]
_CARS = [
    ("LADA", "VESTA", "106"),
    ("KIA", "RIO", "123"),
    ("HYUNDAI", "SOLARIS", "123"),
    ("TOYOTA", "CAMRY", "181"),
    ("VOLKSWAGEN", "POLO", "110"),
    ("SKODA", "OCTAVIA", "150"),
    ("RENAULT", "LOGAN", "82"),
    ("HAVAL", "JOLION", "143"),
]
#: licences the insurer simulator knows (config/insurer_simulator.toml)
_KNOWN_LICENCES = ["77 01 123456", "77 02 654321", "45 10 987654"]


def _plate(rng: random.Random, region: str) -> str:
    letters = PLATE_LETTERS
    digits = rng.randint(1, 999)
    return f"{rng.choice(letters)}{digits:03d}{rng.choice(letters)}{rng.choice(letters)}{region}"


def _vin(rng: random.Random) -> str:
    return "XTA" + "".join(rng.choice(VIN_ALPHABET) for _ in range(14))


def _licence(rng: random.Random) -> str:
    return f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(100000, 999999)}"


def sample_customer(rng: random.Random, start: dt.date, index: int = 0) -> SaleInput:
    """One plausible customer whose contract starts on ``start``."""
    last, first, middle = rng.choice(_MEN + _WOMEN)
    region, locality, address = rng.choice(_PLACES)
    born = start - dt.timedelta(days=rng.randint(20 * 365 + 10, 70 * 365))
    owner = Person(
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=born,
        passport=f"{rng.randint(1000, 9999)} {rng.randint(100000, 999999)}",
        address=address,
        region_code=region,
        locality=locality,
        phone=f"+79{rng.randint(100000000, 999999999)}",
        email=f"client{index}@example.ru",
    )
    make, model, hp = rng.choice(_CARS)
    vehicle = VehicleEntry(
        category="B",
        make=make,
        model=model,
        year=rng.randint(2008, start.year),
        power_hp=Decimal(hp),
        document_type="СТС",
        document_number=f"{region} {rng.randint(10, 99)} {rng.randint(100000, 999999)}",
        plate=_plate(rng, region),
        vin=_vin(rng),
    )
    drivers: tuple[DriverEntry, ...] | None
    if rng.random() < 0.15:
        drivers = None
    else:
        drivers = tuple(
            _driver(rng, start, born if i == 0 else None, (last, first, middle) if i == 0 else None)
            for i in range(rng.choice((1, 1, 2, 2, 3)))
        )
    return SaleInput(
        vehicle=vehicle, owner=owner, start_date=start, drivers=drivers, period_months=rng.choice((12, 12, 12, 6, 10))
    )


def _driver(rng: random.Random, start: dt.date, born: dt.date | None, name: tuple[str, str, str] | None) -> DriverEntry:
    last, first, middle = name or rng.choice(_MEN + _WOMEN)
    born = born or start - dt.timedelta(days=rng.randint(19 * 365 + 10, 65 * 365))
    earliest_licence = born + dt.timedelta(days=18 * 366)
    latest = start - dt.timedelta(days=30)
    licensed = earliest_licence + dt.timedelta(days=rng.randint(0, max((latest - earliest_licence).days, 0)))
    licence = rng.choice(_KNOWN_LICENCES) if rng.random() < 0.3 else _licence(rng)
    return DriverEntry(
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=born,
        licence=licence,
        licence_date=min(licensed, latest),
    )


def sample_customers(count: int, start: dt.date, seed: int = 2026) -> list[SaleInput]:
    """``count`` customers, the same for the same seed."""
    rng = random.Random(seed)
    return [sample_customer(rng, start, i) for i in range(count)]
