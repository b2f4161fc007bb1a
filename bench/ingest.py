"""Sales events ingested per second on PostgreSQL by 200 concurrent signed kiosk clients, next to a
pgbench insert-only run on the same machine and the same cluster.

Starts its own PostgreSQL (fsync on, as in production) and `osago-server serve` on it, provisions 200
kiosks, and prepares each kiosk's outbox batches (realistic sale events: authorised, registered with
personal data, printed, committed, completed) before timing. Then:

1. throughput: 200 kiosk threads send their batches back to back (each request freshly signed);
   events/s = events acknowledged / wall time; p50/p99 of the request latency under saturation;
2. latency at a sustainable load: the same 200 kiosks paced to half the measured throughput
   (open loop); p99 latency there is the figure that matters for a kiosk waiting on sync;
3. pgbench: 200 clients, each transaction one INSERT of an event-like row into an indexed table.

Targets: ingest ≥ 50 % of pgbench's insert rate; p99 < 200 ms. Figures are printed, not asserted.

    python bench/ingest.py [--kiosks 200] [--batch 100] [--seconds 15] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.signing import sign  # noqa: E402
from server.db import open_database  # noqa: E402
from tests.integration.server.conftest import provision  # noqa: E402
from tests.support.sale_events import envelopes  # noqa: E402
from tests.support.server_process import PG_BIN, ServerProcess, TemporaryPostgres  # noqa: E402

PGBENCH_SCRIPT = """\\set n random(1, 1000000000)
INSERT INTO bench_events (event_id, kiosk_id, kind, sale_id, created_at, payload)
VALUES (md5(:n::text || clock_timestamp()::text), 'KIOSK-0001', 'sale.completed', md5(:n::text), now(),
        '{"amount": "8432.17", "category": "B", "region": "77"}');
"""


class Kiosk(threading.Thread):
    """One kiosk sending its pre-built batches; records each request's latency."""

    def __init__(self, url: str, kiosk_id: str, secret: bytes, batches: list[bytes], pace: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.url, self.kiosk_id, self.secret, self.batches, self.pace = url, kiosk_id, secret, batches, pace
        self.latencies: list[float] = []
        self.events = 0
        self.errors = 0
        self.deadline = 0.0
        self.session = requests.Session()

    def run(self) -> None:
        # Paced kiosks start at random moments within one interval, as real kiosks' timers would.
        next_at = time.perf_counter() + (random.uniform(0, self.pace) - self.pace if self.pace else 0.0)
        for body in self.batches:
            if time.perf_counter() > self.deadline:
                break
            if self.pace:
                next_at += self.pace
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            headers = {**sign(self.secret, self.kiosk_id, "POST", "/api/v1/events", body),
                       "Content-Type": "application/json"}  # fmt: skip
            started = time.perf_counter()
            try:
                response = self.session.post(self.url + "/api/v1/events", data=body, headers=headers, timeout=60)
            except requests.RequestException:
                self.errors += 1
                continue
            self.latencies.append(time.perf_counter() - started)
            if response.status_code == 200:
                self.events += len(response.json()["acknowledged"])
            else:
                self.errors += 1


def run_kiosks(url: str, kiosks: list[tuple[str, bytes, list[bytes]]], seconds: float, pace: float) -> dict[str, float]:
    threads = [Kiosk(url, kiosk_id, secret, batches, pace) for kiosk_id, secret, batches in kiosks]
    started = time.perf_counter()
    for thread in threads:
        thread.deadline = started + seconds
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(x for t in threads for x in t.latencies)
    events = sum(t.events for t in threads)
    return {
        "events_per_s": events / elapsed,
        "requests": len(latencies),
        "errors": sum(t.errors for t in threads),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "elapsed": elapsed,
    }


def pgbench(cluster: TemporaryPostgres, clients: int, seconds: int) -> float:
    cluster.psql(
        "CREATE TABLE bench_events (event_id varchar(64) PRIMARY KEY, kiosk_id varchar(64), kind varchar(64), "
        "sale_id varchar(64), created_at timestamptz, payload json)"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    result = subprocess.run(
        [str(PG_BIN / "pgbench"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", cluster.user, "-n",
         "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", script.name, cluster.database],
        capture_output=True, text=True, check=True, timeout=seconds + 120,
    )  # fmt: skip
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if match is None:
        raise RuntimeError(result.stdout + result.stderr)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    print(f"pgbench: {clients} clients, {seconds} s: {float(match.group(1)):,.0f} inserts/s"
          + (f", average latency {latency.group(1)} ms" if latency else ""))  # fmt: skip
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100, help="events per request (20 sales = 100 events)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()

    cluster = TemporaryPostgres(fsync=True).start()
    root = Path(tempfile.mkdtemp(prefix="osago-bench-"))
    server = ServerProcess(root / "server", cluster.url, workers=args.workers)
    try:
        open_database(cluster.url).close()  # migrate once, before the workers start
        server.start(timeout=60)
        keyring = server.keyring()
        sales_per_batch = max(1, args.batch // 5)
        batches_per_kiosk = 200
        kiosks = []
        for number in range(args.kiosks):
            kiosk_id = f"KIOSK-{number:04d}"
            provision(cluster.url, kiosk_id, root / "keys" / f"{kiosk_id}.key", keyring)
            secret = bytes.fromhex((root / "keys" / f"{kiosk_id}.key").read_text().strip())
            events = envelopes(kiosk_id, sales_per_batch * batches_per_kiosk, kiosk_no=number)
            step = sales_per_batch * 5
            bodies = [json.dumps({"events": events[i : i + step]}, ensure_ascii=False).encode()
                      for i in range(0, len(events), step)]  # fmt: skip
            kiosks.append((kiosk_id, secret, bodies))
        print(f"prepared {args.kiosks} kiosks × {batches_per_kiosk} batches of {sales_per_batch * 5} events")

        full = run_kiosks(server.url, [(k, s, b[: len(b) // 2]) for k, s, b in kiosks], args.seconds, 0.0)
        print(f"ingest, saturated: {full['events_per_s']:,.0f} events/s ({full['requests']} requests, "
              f"{full['errors']} errors), latency p50 {full['p50_ms']:.0f} ms, "
              f"p99 {full['p99_ms']:.0f} ms")  # fmt: skip
        # Half the measured capacity, spread evenly over the kiosks (open loop).
        per_kiosk_rate = full["events_per_s"] / 2 / args.kiosks / (sales_per_batch * 5)
        paced = run_kiosks(server.url, [(k, s, b[len(b) // 2 :]) for k, s, b in kiosks], args.seconds,
                           1 / per_kiosk_rate if per_kiosk_rate > 0 else 1.0)  # fmt: skip
        print(f"ingest at half load: {paced['events_per_s']:,.0f} events/s, latency p50 {paced['p50_ms']:.0f} ms, "
              f"p99 {paced['p99_ms']:.0f} ms ({paced['errors']} errors)")  # fmt: skip
        server.stop()

        rate = pgbench(cluster, args.kiosks, int(args.seconds))
        ratio = full["events_per_s"] / rate
        print(f"ratio ingest / pgbench: {100 * ratio:.0f} % (target ≥ 50 %) -> {'meets' if ratio >= 0.5 else 'MISSES'}")
        p99 = paced["p99_ms"]
        print(f"p99 at half load: {p99:.0f} ms (target < 200 ms) -> {'meets' if p99 < 200 else 'MISSES'}")
    finally:
        server.stop()
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
