"""Quotes per second through the tariff engine, on one core, for 1,000,000 varied inputs.

The central server reprices every expiring policy nightly, so the engine has a throughput target:
≥ 35,000 quotes/s on one core. Inputs are generated in chunks from a seeded generator (not timed):
dates across the editions in force, private cars, taxis, trucks, motorcycles and buses, individuals
and legal entities, limited lists of 1–5 drivers and unlimited lists, every known territory, seasonal
periods, trailers, violations. Requests the tables cannot price (unknown rows) count as refusals.

    python bench/quotes.py [--count N] [--seed S] [--contract]

``--contract`` also measures the JSON contract path (parse + quote + render) on a sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.tariffs import (  # noqa: E402
    Driver,
    OwnerType,
    QuoteRequest,
    Registration,
    TariffEngine,
    decode_json,
    load_base_rates,
    load_tariff_book,
    parse_request,
    quote_to_json,
)
from kiosk.validation import FieldError  # noqa: E402

TARGET = 35_000
CHUNK = 50_000


def make_engine() -> TariffEngine:
    book = load_tariff_book(ROOT / "config" / "tariffs")
    return TariffEngine(book, load_base_rates(ROOT / "config" / "base_rates.toml", book))


def generator(engine: TariffEngine, seed: int):  # type: ignore[no-untyped-def]
    """Endless varied requests."""
    rng = random.Random(seed)
    first = dt.date(2022, 9, 13)
    span = (dt.date(2027, 12, 31) - first).days
    territories: dict[str, list[tuple[str, str | None]]] = {}
    for tariff in engine.book.tariffs:
        territories[tariff.version] = [
            (code, name) for code, region in tariff.regions.items() for name in [None, *region.locality_names.values()]
        ]
    categories = [("B", 70), ("B_TAXI", 5), ("B_LEGAL", 8), ("C_LE16", 5), ("C_GT16", 4), ("AM", 4), ("D_LE16", 4)]
    names = [c for c, _ in categories]
    weights = [w for _, w in categories]
    while True:
        day = first + dt.timedelta(days=rng.randrange(span))
        tariff = engine.book.for_date(day)
        category = rng.choices(names, weights)[0]
        legal = category in ("B_LEGAL", "C_GT16") or rng.random() < 0.05
        if category == "B":
            category = "B_LEGAL" if legal else "B_IND"
        code, locality = rng.choice(territories[tariff.version])
        classes = tariff.kbm_order
        drivers = None
        if not legal and rng.random() < 0.8:
            drivers = []
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 5))):
                age = rng.randint(18, 80)
                experience = rng.randint(0, age - 18)
                born = day - dt.timedelta(days=365 * age + rng.randint(20, 300))
                licensed = day - dt.timedelta(days=365 * experience + rng.randint(20, 300))
                drivers.append(Driver(born, max(licensed, born + dt.timedelta(days=366 * 16 + 5)), rng.choice(classes)))
            drivers = tuple(drivers)
        yield QuoteRequest(
            start_date=day,
            category=category,
            owner_type=OwnerType.LEGAL_ENTITY if legal else OwnerType.INDIVIDUAL,
            power_hp=Decimal(rng.randint(40, 400)),
            trailer=rng.random() < 0.1,
            registration=Registration.RU,
            region_code=code,
            locality=locality or "Прочий посёлок",
            period_months=12 if legal else rng.choice((3, 6, 9, 10, 12, 12, 12, 12)),
            drivers=drivers,
            owner_kbm_class=rng.choice(classes) if drivers is None else None,
            violations=rng.random() < 0.02,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=6007)
    parser.add_argument("--contract", action="store_true", help="also time the JSON contract path")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    engine = make_engine()
    source = generator(engine, args.seed)
    quoted = refused = 0
    total = Decimal(0)
    elapsed = 0.0
    remaining = args.count
    while remaining:
        chunk = [next(source) for _ in range(min(CHUNK, remaining))]
        quote = engine.quote
        start = time.perf_counter()
        for request in chunk:
            try:
                total += quote(request).premium
                quoted += 1
            except FieldError:
                refused += 1
        elapsed += time.perf_counter() - start
        remaining -= len(chunk)

    rate = args.count / elapsed
    print(f"inputs:            {args.count:,}")
    print(f"priced / refused:  {quoted:,} / {refused:,} (refused: rows the tables do not establish, e.g. Dagestan)")
    print(f"engine time:       {elapsed:.2f} s (input generation not timed)")
    print(f"quotes per second: {rate:,.0f} on one core (target ≥ {TARGET:,}: {'met' if rate >= TARGET else 'NOT met'})")
    print(f"mean premium:      {(total / max(quoted, 1)).quantize(Decimal('0.01'))} RUB")

    if args.contract:
        sample = (ROOT / "examples" / "quote-moscow-limited.json").read_text(encoding="utf-8")
        n = 20_000
        start = time.perf_counter()
        for _ in range(n):
            json.dumps(quote_to_json(engine.quote(parse_request(decode_json(sample)))), ensure_ascii=False)
        contract_rate = n / (time.perf_counter() - start)
        print(f"JSON contract path: {contract_rate:,.0f} requests/s (decode + validate + quote + render)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
