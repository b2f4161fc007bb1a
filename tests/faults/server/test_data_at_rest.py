"""Personal data at rest on the real server (SQLite file and a PostgreSQL dump): nothing in plain text,
keys apart from the database, rotation that keeps everything readable, a migration that seals what an
older version stored in the clear, and a clear refusal when the key file is missing or wrong."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select, text

from kiosk.signing import new_key, read_key_file, sign
from server.db import MIGRATIONS, open_database
from server.keys import Keyring, add_key, is_sealed
from server.models import Application, Event, Kiosk, Policy
from server.registry import Registry
from server.rotation import SEALED_COLUMNS, left_to_rotate, rotate
from tests.faults.server.conftest import (
    add_operator,
    customer_events,
    fresh_database,
    log_in,
    new_kiosk,
    push,
    start_server,
)
from tests.support.server_process import PG_BIN, ServerProcess, TemporaryPostgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def filled(
    request: pytest.FixtureRequest, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, str], str, Path]]:
    """A server that took one sale (events), one registration and one application of the same customer."""
    root = tmp_path_factory.mktemp("at-rest")
    server = start_server(request, db_kind, root)
    try:
        add_operator(server, "operator")
        kiosk_id, key_file = new_kiosk(server, root)
        events, customer = customer_events(kiosk_id)
        answer = push(server, kiosk_id, key_file, events)
        assert answer["stored"] == len(events) and not answer["problems"], answer
        registered = next(e for e in events if e["kind"] == "policy.registered")
        secret = read_key_file(key_file)
        contract = {
            "sale_id": "S-API-1", "period_start": registered["payload"]["period_start"],
            "period_end": registered["payload"]["period_end"], "premium": "7311.20", "tariff_version": "7204-U",
            "coefficients": {"TB": "7000"}, **registered["personal"],
        }  # fmt: skip
        for path, body, key in (
            ("/api/v1/policies", contract, f"{kiosk_id}:register-api-1"),
            ("/api/v1/applications", {"sale_id": "S-APP-1", "office": "Офис «Тверь»",
                                      "data": {"personal": registered["personal"]}}, f"{kiosk_id}:application-1"),
        ):  # fmt: skip
            raw = json.dumps(body, ensure_ascii=False).encode()
            headers = {**sign(secret, kiosk_id, "POST", path, raw), "Idempotency-Key": key,
                       "Content-Type": "application/json"}  # fmt: skip
            response = requests.post(server.url + path, data=raw, headers=headers, timeout=30)
            assert response.status_code == 200, response.text
        yield server, customer, kiosk_id, key_file
    finally:
        server.stop()


def _needles(customer: dict[str, str], secret_hex: str) -> dict[str, list[bytes]]:
    """Every personal datum as it might be written (as sent, compacted, JSON-escaped), and the kiosk's secret."""
    out: dict[str, list[bytes]] = {}
    for name, value in customer.items():
        forms = {value, value.replace(" ", ""), value.replace(" ", "").replace("-", "")}
        if name == "phone":
            forms |= {"9165557319", "+79165557319"}
        if name == "address":
            forms.add("Трёхсвятская")
        out[name] = sorted({f.encode() for f in forms} | {json.dumps(f).strip('"').encode() for f in forms})
    out["kiosk secret"] = [secret_hex.encode()]
    return out


def _found(blob: bytes, needles: dict[str, list[bytes]]) -> list[str]:
    return [name for name, forms in needles.items() if any(form in blob for form in forms)]


def _pg_dump(request: pytest.FixtureRequest, url: str) -> bytes:
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    database = url.rsplit("/", 1)[1]
    argv = [str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", cluster.user, "-d", database]
    return subprocess.run(argv, check=True, capture_output=True, timeout=120).stdout


def test_the_database_holds_no_personal_datum_in_plain_text(
    request: pytest.FixtureRequest, filled: tuple[ServerProcess, dict[str, str], str, Path]
) -> None:
    server, customer, _kiosk_id, key_file = filled
    needles = _needles(customer, key_file.read_text().strip())
    assert server.db_url is not None
    if server.db_url.startswith("sqlite"):
        database_file = Path(server.db_url.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in database_file.parent.glob(database_file.name + "*"))
        stored += b"".join(p.read_bytes() for p in server.data_dir.glob("limits.db*"))
    else:
        stored = _pg_dump(request, server.db_url)
        assert b"COPY public.policies" in stored
    assert len(stored) > 10_000
    assert _found(stored, needles) == []
    # Nor in the server's log.
    assert _found(server.log.read_bytes() if server.log else b"", needles) == []
    # And yet the server has it all: the operator sees the customer, search finds the policy.
    operator, _ = log_in(server, "operator")
    renewals = operator.get(f"{server.url}/dashboard/renewals", timeout=10).text
    assert "Подпольщиков А. Е." in renewals and "+7 916 555-73-19" in renewals


def test_policies_are_found_by_phone_document_and_vehicle_however_they_are_written(
    filled: tuple[ServerProcess, dict[str, str], str, Path],
) -> None:
    server, _customer, _kiosk_id, _key_file = filled
    database = server.database()
    try:
        registry = Registry(database, None, None)  # type: ignore[arg-type]
        for field, value in [("phone", "8 (916) 555 73 19"), ("phone", "+79165557319"), ("passport", "4517982734"),
                             ("licence", "9907 864213"), ("plate", "e421kx69"), ("vin", "xta219470n0731562")]:  # fmt: skip
            found = registry.find_policies(field, value)
            assert len(found) == 2, (field, value, found)  # the sale's policy and the one registered by API
            assert all(p.policyholder and p.policyholder["last_name"] == "Подпольщиков" for p in found)
        assert len(registry.find_applications("phone", "89165557319")) == 1
        assert registry.find_policies("phone", "+79160000000") == []
    finally:
        database.close()


def test_key_rotation_while_serving_keeps_everything_readable(
    filled: tuple[ServerProcess, dict[str, str], str, Path],
) -> None:
    server, _customer, kiosk_id, key_file = filled
    old = Keyring.from_file(server.key_file).primary_id

    added = server.cli("keys", "add")
    rotated = server.cli("keys", "rotate", "--batch", "2")
    status = server.cli("keys", "status")
    pruned = server.cli("keys", "prune")

    assert added.returncode == 0, added.stderr
    new = Keyring.from_file(server.key_file).primary_id
    assert new != old and new in added.stdout
    assert rotated.returncode == 0, rotated.stderr
    assert "Перешифрование" in rotated.stderr  # the progress bar
    assert "every value is under it now" in rotated.stdout
    assert status.returncode == 0 and "0 rows to rotate" in status.stdout, status.stdout + status.stderr
    assert pruned.returncode == 0 and old in pruned.stdout, pruned.stdout + pruned.stderr
    assert Keyring.from_file(server.key_file).ids == [new]
    # Every stored value is under the new key …
    database = server.database()
    try:
        with database.engine.connect() as connection:
            for spec in SEALED_COLUMNS:
                for column in spec.columns:
                    values = connection.execute(text(f"SELECT {column} FROM {spec.table} WHERE {column} IS NOT NULL"))
                    assert all(v.startswith(new + ":") for (v,) in values), (spec.table, column)
        registry = Registry(database, None, None)  # type: ignore[arg-type]
        assert len(registry.find_policies("phone", "89165557319")) == 2  # digests do not change with the keys
    finally:
        database.close()
    # … and the running server, which never restarted, reads it: the kiosk's secret, the customer.
    signed = sign(read_key_file(key_file), kiosk_id, "GET", "/api/v1/status", b"")
    assert requests.get(f"{server.url}/api/v1/status", headers=signed, timeout=10).status_code == 200
    operator, _ = log_in(server, "operator")
    assert "Подпольщиков А. Е." in operator.get(f"{server.url}/dashboard/renewals", timeout=10).text
    server.stop()
    server.start()
    assert "Подпольщиков А. Е." in operator.get(f"{server.url}/dashboard/renewals", timeout=10).text


def test_an_interrupted_rotation_goes_on_where_it_stopped(tmp_path: Path) -> None:
    key_file = tmp_path / "server.key"
    keyring = Keyring.from_file(key_file, create=True)
    database = open_database(f"sqlite:///{tmp_path / 'server.db'}", keyring=keyring)
    now = dt.datetime.now(dt.UTC)
    with database.transaction() as session:
        for n in range(12):
            session.add(Kiosk(id=f"K-{n:02d}", secret=new_key(), enabled=True, created_at=now))
            session.add(Event(event_id=f"E-{n:02d}", kiosk_id="K-00", kind="x", created_at=now, received_at=now,
                              payload={}, personal={"owner": {"last_name": f"Иванов-{n}"}}))  # fmt: skip
    add_key(key_file)
    keyring.refresh(force=True)
    done: list[int] = []

    def crash_after_five(rows: int) -> None:
        done.append(rows)
        if sum(done) >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate(database, keyring, batch=1, progress=crash_after_five)
    left = left_to_rotate(database, keyring)
    again = rotate(database, keyring, batch=4)

    assert left == 25 - 5  # 12 kiosks, 12 events, the index key; five were done before the crash
    assert again == left and left_to_rotate(database, keyring) == 0
    with database.session() as session:
        assert sorted(e.personal["owner"]["last_name"] for e in session.scalars(select(Event)))[0] == "Иванов-0"
        assert all(len(k.secret) == 64 for k in session.scalars(select(Kiosk)))
    database.close()


def _plain_database_at_0001(url: str) -> None:
    """A database as the previous version left it: schema 0001, personal data as plain JSON."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    config.attributes["engine"] = engine
    command.upgrade(config, "0001")
    person = {"last_name": "Старожилов", "first_name": "Пётр", "phone": "+7 903 111-22-33", "passport": "4501 000111"}
    vehicle = {"category": "B", "make": "Lada", "plate": "А001АА77", "vin": "XTA21099000000001"}
    rows = {
        "kiosks": {"id": "KIOSK-OLD", "secret": "ab" * 32, "enabled": True, "created_at": "2026-01-01 00:00:00"},
        "policies": {"id": 1, "kiosk_id": "KIOSK-OLD", "sale_id": "S-OLD", "idempotency_key": None, "series": "ХХХ",
                     "number": "0000000001", "status": "active", "period_start": "2026-01-01 00:00:00",
                     "period_end": "2027-01-01 00:00:00", "premium": 500000, "tariff_version": "7204-U",
                     "coefficients": "{}", "vehicle": json.dumps(vehicle, ensure_ascii=False),
                     "policyholder": json.dumps(person, ensure_ascii=False), "owner": json.dumps(person, ensure_ascii=False),
                     "drivers": "null", "extra": "{}", "source": "event", "registered_at": "2026-01-01 00:00:00"},
        "applications": {"number": "A-OLD-1", "kiosk_id": "KIOSK-OLD", "office": "Офис", "status": "в обработке",
                         "data": json.dumps({"personal": {"owner": person}}, ensure_ascii=False),
                         "created_at": "2026-01-01 00:00:00", "updated_at": "2026-01-01 00:00:00"},
        "events": {"event_id": "E-OLD-1", "kiosk_id": "KIOSK-OLD", "kind": "policy.registered", "sale_id": "S-OLD",
                   "created_at": "2026-01-01 00:00:00", "received_at": "2026-01-01 00:00:00", "payload": "{}",
                   "personal": json.dumps({"policyholder": person}, ensure_ascii=False)},
    }  # fmt: skip
    with engine.begin() as connection:
        for table, row in rows.items():
            columns = ", ".join(row)
            values = ", ".join(f":{c}" for c in row)
            connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)
    engine.dispose()


def test_the_migration_seals_what_the_previous_version_stored_in_plain_text(
    request: pytest.FixtureRequest, db_kind: str, tmp_path: Path
) -> None:
    url = fresh_database(request, db_kind, tmp_path)
    _plain_database_at_0001(url)
    server = ServerProcess(tmp_path / "server", url)

    migrated = server.cli("migrate")

    assert migrated.returncode == 0, migrated.stderr
    assert server.key_file.exists() and oct(server.key_file.stat().st_mode & 0o777) == "0o600"
    engine = create_engine(url)
    with engine.connect() as connection:
        raw: dict[str, Any] = {
            "secret": connection.execute(text("SELECT secret FROM kiosks")).scalar_one(),
            "owner": connection.execute(text("SELECT owner FROM policies")).scalar_one(),
            "drivers": connection.execute(text("SELECT drivers FROM policies")).scalar_one(),
            "data": connection.execute(text("SELECT data FROM applications")).scalar_one(),
            "personal": connection.execute(text("SELECT personal FROM events")).scalar_one(),
        }
    engine.dispose()
    assert all(is_sealed(v) for k, v in raw.items() if k != "drivers"), raw
    assert raw["drivers"] is None and "Старожилов" not in json.dumps(raw, ensure_ascii=False)
    database = server.database()
    try:
        with database.session() as session:
            assert session.get(Kiosk, "KIOSK-OLD").secret == "ab" * 32  # type: ignore[union-attr]
            policy = session.scalars(select(Policy)).one()
            assert policy.owner == policy.policyholder and policy.owner["last_name"] == "Старожилов"
            assert session.get(Application, "A-OLD-1").data["personal"]["owner"]["phone"] == "+7 903 111-22-33"  # type: ignore[union-attr]
        registry = Registry(database, None, None)  # type: ignore[arg-type]
        assert [p.number for p in registry.find_policies("phone", "89031112233")] == ["0000000001"]
        assert [p.number for p in registry.find_policies("plate", "A001AA77")] == ["0000000001"]
        assert [a.number for a in registry.find_applications("passport", "4501 000111")] == ["A-OLD-1"]
    finally:
        database.close()
    assert server.cli("migrate").returncode == 0  # again: nothing to do


def test_a_missing_open_or_foreign_key_file_stops_the_server_with_one_clear_line(
    filled: tuple[ServerProcess, dict[str, str], str, Path], tmp_path: Path
) -> None:
    server, _customer, _kiosk_id, _key_file = filled
    keys = server.key_file.read_bytes()
    try:
        server.key_file.unlink()
        missing = server.cli("migrate")
        server.key_file.write_bytes(keys)
        server.key_file.chmod(0o644)
        readable = server.cli("migrate")
        server.key_file.chmod(0o600)
        Keyring.from_file(tmp_path / "other.key", create=True)
        server.key_file.write_bytes((tmp_path / "other.key").read_bytes())
        foreign = server.cli("migrate")
    finally:
        server.key_file.write_bytes(keys)
        server.key_file.chmod(0o600)

    for result, words in ((missing, "not found"), (readable, "chmod 600"), (foreign, "does not hold")):
        assert result.returncode == 2, (words, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert server.cli("migrate").returncode == 0
