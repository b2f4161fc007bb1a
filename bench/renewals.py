"""Renewal pricing throughput: 1,000,000 renewal quotes through the path `osago-server renewals` uses.

Target: < 30 s on 2 cores (the engine prices ~48k quotes/s on one core). The work is split the way the
command splits it (`server.renewals.run_in_workers`: each worker process builds its engine once and
handles chunks on its own). Here a chunk's items come from 2,000 varied sample customers (vehicle,
owner, drivers, extra as the stored contract holds them), with start dates over 30 days, instead of
from the database; each is turned into a renewal request (`renewal_request`: next КБМ class, tariffs in
force on the new start) and priced (`price`).

    python bench/renewals.py [--count N] [--workers W] [--chunk C]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.sale.samples import sample_customers  # noqa: E402
from server.renewals import RenewalItem, price, run_in_workers, worker_engine  # noqa: E402

TARGET_SECONDS = 30.0


_CUSTOMERS: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]] | None, dict[str, Any]]] = []


def _customers() -> list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]] | None, dict[str, Any]]]:
    """2,000 varied customers as stored contracts (built once per process)."""
    if not _CUSTOMERS:
        for customer in sample_customers(2000, dt.date(2026, 1, 10), seed=11):
            drivers = [d.to_dict() for d in customer.drivers] if customer.drivers is not None else None
            extra = {"period_months": customer.period_months, "owner_kbm_class": customer.owner_kbm_class}
            _CUSTOMERS.append((customer.vehicle.to_dict(), customer.owner.to_dict(), drivers, extra))
    return _CUSTOMERS


def chunk(spec: tuple[int, int]) -> tuple[int, int]:
    """Price renewals ``start`` … ``start + count - 1`` (runs in a worker)."""
    start, count = spec
    customers = _customers()
    base = dt.date(2027, 1, 10)
    starts = [(base + dt.timedelta(days=d)).isoformat() for d in range(30)]
    items: list[RenewalItem] = [
        (i, starts[i % 30], *customers[i % len(customers)]) for i in range(start, start + count)
    ]
    results = price(worker_engine(), items)
    failed = sum(1 for r in results if r.error)
    return len(results) - failed, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--chunk", type=int, default=5000)
    args = parser.parse_args()

    _customers()  # before the fork: workers inherit them
    tables, rates = ROOT / "config" / "tariffs", ROOT / "config" / "base_rates.toml"
    specs = [(start, min(args.chunk, args.count - start)) for start in range(0, args.count, args.chunk)]
    started = time.perf_counter()
    priced = failed = 0
    for done, refused in run_in_workers(chunk, specs, tables, rates, workers=args.workers):
        priced += done
        failed += refused
    elapsed = time.perf_counter() - started
    rate = args.count / elapsed
    print(f"workers: {args.workers}, cores: {os.cpu_count()}, chunk: {args.chunk}")
    print(f"renewal quotes: {args.count:,} in {elapsed:.1f} s = {rate:,.0f} quotes/s")
    print(f"priced {priced:,}, refused by the tables {failed:,}")
    verdict = "meets" if elapsed < TARGET_SECONDS * args.count / 1_000_000 else "MISSES"
    print(f"target: 1,000,000 in < {TARGET_SECONDS:.0f} s -> {verdict} (projected {1_000_000 / rate:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
