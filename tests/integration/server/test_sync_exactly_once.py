"""Real kiosk sync over HTTP into the real server, on SQLite and PostgreSQL, while things go wrong:
the server SIGKILLed mid-batch again and again, a proxy cutting connections (before the request and
after the server did the work), duplicated, reordered and concurrent batches. The server must end
with every event exactly once and projections that count each sale once."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiosk import outbox
from kiosk.journal.db import Journal, open_journal
from kiosk.privacy import PersonalDataCipher
from kiosk.sync import SyncError, push_outbox, run_sync
from server.db import Database, open_database
from server.guard import REFUSED
from server.ingest import ingest_events
from server.keys import Keyring
from server.models import Event, Payment, Policy, Sale
from server.schemas import EventIn
from tests.integration.server.conftest import ProvisionedKiosk, fast_client, fresh_database, provision
from tests.support.sale_events import SALE_KINDS, emit_sales, envelopes
from tests.support.server_process import REPO, FlakyProxy, ServerProcess

pytestmark = pytest.mark.integration

SALES = 40
KILLS = 5


def _counts(database: Database, kiosk_id: str) -> dict[str, int]:
    with database.session() as session:
        return {
            "events": session.scalar(select(func.count()).select_from(Event).where(Event.kiosk_id == kiosk_id)) or 0,
            "sales": session.scalar(
                select(func.count()).select_from(Sale).where(Sale.kiosk_id == kiosk_id, Sale.status == "completed")
            )
            or 0,
            "payments": session.scalar(
                select(func.count())
                .select_from(Payment)
                .where(Payment.kiosk_id == kiosk_id, Payment.status == "committed")
            )
            or 0,
            "policies": session.scalar(
                select(func.count()).select_from(Policy).where(Policy.kiosk_id == kiosk_id, Policy.status == "active")
            )
            or 0,
        }


@pytest.fixture
def kiosk_journal(tmp_path: Path) -> Iterator[tuple[Journal, PersonalDataCipher]]:
    journal = open_journal(tmp_path / "kiosk" / "journal.db")
    cipher = PersonalDataCipher.from_key_file(tmp_path / "kiosk" / "keys" / "personal.key", create=True)
    try:
        yield journal, cipher
    finally:
        journal.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_event_arrives_exactly_once_while_the_server_is_killed_and_the_network_drops(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, kiosk_journal: tuple[Journal, PersonalDataCipher]
) -> None:
    journal, cipher = kiosk_journal
    url = fresh_database(request, kind, tmp_path)
    server = ServerProcess(tmp_path / "server", url).start()
    key_file = tmp_path / "kiosk" / "server.key"
    provision(url, "KIOSK-0042", key_file, server.keyring())
    ids = emit_sales(journal, "KIOSK-0042", SALES, cipher)
    stop = threading.Event()
    kills = 0
    thread = threading.Thread()

    def killer() -> None:
        nonlocal kills
        rng = random.Random(42)
        while not stop.is_set() and kills < KILLS:
            time.sleep(rng.uniform(0.2, 0.6))
            server.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            server.start()

    try:
        with FlakyProxy(server.port, drop=0.3) as proxy:
            client = fast_client(proxy.url, "KIOSK-0042", key_file, retries=3)
            thread = threading.Thread(target=killer, daemon=True)
            thread.start()
            deadline = time.monotonic() + 90
            runs = failures = 0
            while time.monotonic() < deadline:
                runs += 1
                try:
                    report = push_outbox(journal, client, "KIOSK-0042", cipher, batch_size=7)
                except SyncError:
                    failures += 1
                    continue
                if report.remaining == 0 and (kills >= KILLS or not thread.is_alive()):
                    break
                time.sleep(0.05)
            stop.set()
            thread.join(30)
            client.close()
            dropped = proxy.dropped

        database = server.database()
        try:
            counts = _counts(database, "KIOSK-0042")
            with database.session() as session:
                stored = set(session.scalars(select(Event.event_id).where(Event.kiosk_id == "KIOSK-0042")))
        finally:
            database.close()
    finally:
        stop.set()
        # The killer may be restarting the server right now: let it finish before the last stop.
        if thread.is_alive():
            thread.join(60)
        server.stop()

    with journal.session() as session:
        assert outbox.pending_count(session) == 0
    assert kills >= KILLS, f"the server was killed only {kills} times"
    assert dropped > 0, "the proxy dropped no connection"
    assert failures > 0 or runs > 1
    assert stored == set(ids)
    assert counts == {"events": SALES * len(SALE_KINDS), "sales": SALES, "payments": SALES, "policies": SALES}


def test_duplicated_reordered_and_concurrent_batches_store_each_event_once(
    server: ServerProcess, kiosk: ProvisionedKiosk, server_db: Database
) -> None:
    events = envelopes(kiosk.kiosk_id, 30)
    rng = random.Random(7)
    batches = []
    for _ in range(12):
        batch = rng.sample(events, 25)
        batches.append(batch + batch[:5])  # a batch repeating some of its own events
    batches.append(list(reversed(events)))  # everything, newest first: committed before authorised

    acknowledged: set[str] = set()
    lock = threading.Lock()

    def send(batch: list[dict[str, object]]) -> None:
        client = fast_client(server.url, kiosk.kiosk_id, kiosk.key_file)
        try:
            answer = client.json(client.request("POST", "/api/v1/events", body={"events": batch}, retry=True))
        finally:
            client.close()
        assert not answer["problems"], answer["problems"]
        with lock:
            acknowledged.update(answer["acknowledged"])

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert acknowledged == {e["event_id"] for e in events}
    assert _counts(server_db, kiosk.kiosk_id) == {"events": 150, "sales": 30, "payments": 30, "policies": 30}


def test_a_cancel_request_that_overtakes_its_registration_still_annuls_the_policy(
    server: ServerProcess, kiosk: ProvisionedKiosk, server_db: Database
) -> None:
    registered = next(e for e in envelopes(kiosk.kiosk_id, 1, first=900) if e["kind"] == "policy.registered")
    cancel = {**registered, "event_id": registered["event_id"][:-4] + "ffff", "kind": "policy.cancel_requested"}

    for batch in ([cancel], [registered]):
        kiosk.client.json(kiosk.client.request("POST", "/api/v1/events", body={"events": batch}, retry=True))

    with server_db.session() as session:
        policy = session.scalars(select(Policy).where(Policy.sale_id == registered["sale_id"])).one()
    assert policy.status == "annulled"


def test_sync_command_reports_progress_exits_zero_when_empty_and_three_when_unreachable(
    server: ServerProcess, kiosk: ProvisionedKiosk, tmp_path: Path
) -> None:
    data = tmp_path / "kiosk"
    journal = open_journal(data / "journal.db")
    cipher = PersonalDataCipher.from_key_file(data / "keys" / "personal.key", create=True)
    emit_sales(journal, kiosk.kiosk_id, 5, cipher)
    journal.close()
    env = {
        **os.environ,
        "OSAGO_DATA__DIR": str(data),
        "OSAGO_KIOSK__ID": kiosk.kiosk_id,
        "OSAGO_SERVER__URL": server.url,
        "OSAGO_SERVER__KEY_FILE": str(kiosk.key_file),
        "OSAGO_SERVER__RETRIES": "1",
        "OSAGO_SERVER__BACKOFF": "0.05",
    }

    def sync(*args: str, **changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kiosk", "sync", "--batch-size", "4", *args],
                              env={**env, **changes}, cwd=REPO, check=False, capture_output=True, text=True, timeout=60)  # fmt: skip

    done = sync()
    again = sync()
    unreachable = sync(OSAGO_SERVER__URL="http://127.0.0.1:9")
    journal = open_journal(data / "journal.db")
    cipher = PersonalDataCipher.from_key_file(data / "keys" / "personal.key")
    emit_sales(journal, kiosk.kiosk_id, 1, cipher)
    journal.close()
    # A key the server never issued for this kiosk (the journal's own kiosk: the journal guard accepts it).
    wrong_key = tmp_path / "wrong.key"
    wrong_key.write_text("cd" * 32 + "\n", encoding="ascii")
    wrong_key.chmod(0o600)
    refused = sync(OSAGO_SERVER__KEY_FILE=str(wrong_key))

    assert done.returncode == 0, done.stderr
    assert "отправлено 25, подтверждено 25 (7 пакетов), осталось 0" in done.stderr
    assert "Отправка" in done.stderr  # the progress bar
    assert "тарифы: installed 7204-U" in done.stderr
    assert again.returncode == 0 and "отправлено 0" in again.stderr
    assert unreachable.returncode == 3
    assert "сервер недоступен" in unreachable.stderr
    assert refused.returncode == 1
    # One answer for every refused signature: an unknown kiosk is not told it is unknown.
    assert "сервер отказал" in refused.stderr and REFUSED in refused.stderr


def test_application_statuses_set_by_an_operator_come_back_into_the_journal(
    server: ServerProcess, kiosk: ProvisionedKiosk, tmp_path: Path
) -> None:
    import datetime as dt

    from kiosk.journal.models import ApplicationRecord, SaleRecord

    journal = open_journal(tmp_path / "journal.db")
    gateway_answer = kiosk.client.json(
        kiosk.client.request(
            "POST", "/api/v1/applications", body={"sale_id": "s-app", "office": "Офис «Центральный»"},
            idempotency_key=f"{kiosk.kiosk_id}:s-app:application",
        )
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    with journal.transaction() as session:
        session.add(SaleRecord(id="s-app", kiosk_id=kiosk.kiosk_id, state="application_issued", created_at=now,
                               updated_at=now))  # fmt: skip
        session.add(ApplicationRecord(sale_id="s-app", number=gateway_answer["number"], office="Офис",
                                      visit_by="2026-12-01", status="в обработке", created_at=now))  # fmt: skip
    database = server.database()
    from server.registry import Registry

    Registry(database, None, None).set_application_status(gateway_answer["number"], "исполнена", "operator")  # type: ignore[arg-type]
    database.close()

    report = run_sync(journal, kiosk.client, kiosk_id=kiosk.kiosk_id, cipher=None, data_dir=tmp_path,
                      batch_size=10, retention_days=30, tariff_every=None)  # fmt: skip

    with journal.session() as session:
        status = session.get(ApplicationRecord, "s-app").status  # type: ignore[union-attr]
    journal.close()
    assert report.error is None and report.applications_updated == 1
    assert status == "исполнена"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_stored_events_read_back_exactly_as_the_kiosk_sent_them(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # PostgreSQL takes a batch as one JSON document (server.ingest._store_new), SQLite row by row:
    # both must keep text, numbers, nesting, empty personal data and the instant of every event.
    keyring = Keyring.generate()
    database = open_database(fresh_database(request, kind, tmp_path), keyring=keyring)
    try:
        provision(database.engine.url.render_as_string(hide_password=False), "KIOSK-0007", tmp_path / "k.key", keyring)
        moscow = dt.timezone(dt.timedelta(hours=3))
        sent = [
            EventIn(
                event_id=f"KIOSK-0007-{n:04d}",
                kind="device.health" if n % 2 else "sale.abandoned",
                kiosk_id="KIOSK-0007",
                sale_id=None if n % 2 else f"S-{n}",
                created_at=dt.datetime(2026, 11, 21, 23, 59, 59, 123456, tzinfo=moscow) + dt.timedelta(seconds=n),
                payload={
                    "text": 'Полис «ОСАГО»\n"кавычки" \\ \x00 ✓',
                    "amount": "8432.17",
                    "n": 2**40,
                    "ratio": 0.25,
                    "nested": {"list": [1, None, True]},
                    "empty": {},
                },
                personal=None if n % 3 else {"ciphertext": "gAAAAA" + "x" * 40},
            )
            for n in range(12)
        ]
        first = ingest_events(database, "KIOSK-0007", sent, dt.datetime.now(dt.UTC))
        again = ingest_events(database, "KIOSK-0007", list(reversed(sent)), dt.datetime.now(dt.UTC))
        assert (first.stored, first.duplicates, again.stored, again.duplicates) == (12, 0, 0, 12)
        with database.session() as session:
            stored = {e.event_id: e for e in session.scalars(select(Event).where(Event.kiosk_id == "KIOSK-0007"))}
        for event in sent:
            row = stored[event.event_id]
            assert (row.kind, row.sale_id, row.payload, row.personal) == (
                event.kind, event.sale_id, event.payload, event.personal
            )  # fmt: skip
            assert row.created_at == event.created_at and row.created_at.utcoffset() == dt.timedelta(0)
    finally:
        database.close()
