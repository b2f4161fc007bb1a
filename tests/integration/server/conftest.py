"""Fixtures: the real server process on SQLite and on a real PostgreSQL, a provisioned kiosk and its client."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.insurer.http import ClientSettings, ServerClient
from kiosk.signing import new_key, write_key_file
from server.db import Database, open_database
from server.keys import Keyring
from server.models import Kiosk
from tests.support.server_process import ServerProcess, TemporaryPostgres, postgres_available

_databases = itertools.count(1)
_kiosks = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """One PostgreSQL cluster for the session (each test gets its own database in it)."""
    if not postgres_available():
        pytest.skip("PostgreSQL 15 (initdb, pg_ctl) is not installed")
    cluster = TemporaryPostgres().start()
    try:
        yield cluster
    finally:
        cluster.stop()


def fresh_database(request: pytest.FixtureRequest, kind: str, directory: Path) -> str:
    """The URL of a new, empty database of ``kind`` (sqlite or postgresql)."""
    if kind == "sqlite":
        return f"sqlite:///{directory / f'server-{next(_databases)}.db'}"
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    name = f"t{next(_databases)}"
    cluster.psql(f"CREATE DATABASE {name}", database="postgres")
    return cluster.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database of each kind, shared by the tests of a module."""
    return fresh_database(request, request.param, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``osago-server serve`` on a free loopback port (one per module and database kind)."""
    process = ServerProcess(tmp_path_factory.mktemp("server"), db_url).start()
    try:
        yield process
    finally:
        process.stop()


def provision(db_url: str, kiosk_id: str, key_file: Path, keyring: Keyring) -> None:
    """What ``osago-server kiosk add`` does, without a process start (the CLI has its own test)."""
    database = open_database(db_url, keyring=keyring, create=False)
    try:
        secret = new_key()
        with database.transaction() as session:
            session.add(Kiosk(id=kiosk_id, secret=secret, enabled=True, created_at=dt.datetime.now(dt.UTC)))
        write_key_file(key_file, secret)
    finally:
        database.close()


@dataclass
class ProvisionedKiosk:
    """A kiosk known to the server: its id, key file and a signed client."""

    kiosk_id: str
    key_file: Path
    client: ServerClient


def fast_client(url: str, kiosk_id: str, key_file: Path, retries: int = 6) -> ServerClient:
    """A client with short timeouts and quick backoff (tests restart the server in a second or two)."""
    return ServerClient.from_key_file(
        url, kiosk_id, key_file, ClientSettings(connect_timeout=2, read_timeout=10, retries=retries, backoff=0.1,
                                                backoff_max=1.0)
    )  # fmt: skip


@pytest.fixture
def kiosk(server: ServerProcess, db_url: str, tmp_path: Path) -> Iterator[ProvisionedKiosk]:
    """A new kiosk (own id, own key file of mode 0600) for each test."""
    kiosk_id = f"KIOSK-{next(_kiosks):04d}"
    key_file = tmp_path / "kiosk" / "server.key"
    provision(db_url, kiosk_id, key_file, server.keyring())
    client = fast_client(server.url, kiosk_id, key_file)
    try:
        yield ProvisionedKiosk(kiosk_id, key_file, client)
    finally:
        client.close()


@pytest.fixture(scope="module")
def server_db(server: ServerProcess) -> Iterator[Database]:
    """The server's database, opened by the test (with the server's keys) to check what was stored."""
    database = server.database()
    try:
        yield database
    finally:
        database.close()
