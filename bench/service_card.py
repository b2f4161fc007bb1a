"""What a technician waits for, and what a PIN guesser pays: service card timings.

* PIN hash verification (scrypt, log2 N = 14, r = 8, p = 1): the kiosk's cost per PIN typed, and an
  offline guesser's cost per candidate if the config leaked;
* challenge–response through the in-process simulator (socket pair, vpcd framing);
* with a pcscd and vsmartcard's vpcd (as root): challenge–response through pcscd, and the time from
  inserting the virtual card to the watcher's event.

    python bench/service_card.py [--rounds N]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.cardreader import CardEventKind, open_reader  # noqa: E402
from drivers.cardreader.simcard import SimulatedServiceCard  # noqa: E402
from drivers.cardreader.simulator import SimulatedReader  # noqa: E402
from kiosk.service_access import PinHash  # noqa: E402


def timed(action: Callable[[], object], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds

    pin_hash = PinHash.create("4826")
    median, worst = timed(lambda: pin_hash.verify("0000"), max(5, rounds // 5))
    print(
        f"PIN verify (scrypt 2^14, 8, 1): median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms "
        f"-> {1 / median:.0f} guesses/s per core offline"
    )

    card = SimulatedServiceCard("TECH-0042", bytes(32))
    reader = SimulatedReader()
    reader.insert(card)
    median, worst = timed(lambda: reader.query_card(secrets.token_bytes(16)), rounds)
    print(f"challenge-response, simulator: median {median * 1e6:.0f} us, max {worst * 1e6:.0f} us")
    reader.close()

    try:
        from tests.support.pcscd import PcscdService, PcscdUnavailableError
        from tests.support.virtual_card import VirtualCard

        service = PcscdService(Path(tempfile.mkdtemp()) / "pcscd.log")
    except (ImportError, PcscdUnavailableError) as exc:
        print(f"pcscd figures skipped: {exc}")
        return
    try:
        pcsc = open_reader(f"pcsc://?reader={service.reader_name.replace(' ', '%20')}")
        inserted: list[float] = []
        pcsc.start(lambda e: inserted.append(time.perf_counter()) if e.kind is CardEventKind.INSERTED else None)
        virtual = VirtualCard(card, service.endpoint)
        latencies = []
        for _ in range(5):
            count = len(inserted)
            start = time.perf_counter()
            virtual.insert()
            while len(inserted) == count:
                time.sleep(0.005)
            latencies.append(inserted[-1] - start)
            if len(latencies) < 5:
                virtual.remove()
        median, worst = timed(lambda: pcsc.query_card(secrets.token_bytes(16)), rounds)
        print(f"challenge-response, pcscd + vpcd: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms")
        print(
            f"insertion -> watcher event (pcscd polls vpcd every 400 ms): median "
            f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        pcsc.stop()
        virtual.remove()
    finally:
        service.stop()


if __name__ == "__main__":
    main()
