"""Real processes for server tests: ``osago-server serve`` on a free loopback port, a throw-away
PostgreSQL cluster, and a TCP proxy that can drop connections.

PostgreSQL is started by ``initdb``/``pg_ctl`` from Debian's postgresql-15 in a temporary directory
owned by the ``postgres`` user (initdb refuses root), listening on 127.0.0.1 and a socket in that
directory, with fsync off (a test cluster need not survive a power cut). It is stopped afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from server.db import Database, open_database
from server.keys import Keyring

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available() -> bool:
    """Whether initdb and pg_ctl are installed."""
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


@dataclass
class TemporaryPostgres:
    """A PostgreSQL cluster for one test session."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="osago-pg-")))
    port: int = field(default_factory=free_port)
    user: str = "osago"
    database: str = "osago"
    #: fsync off suits tests; benchmarks turn it on to measure what production would see
    fsync: bool = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload,no-any-return]

    def start(self) -> TemporaryPostgres:
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=400 -c shared_buffers=256MB "
            "-c synchronous_commit=on"
        )
        if not self.fsync:
            options += " -F -c full_page_writes=off"
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"),
                   "-w", "-t", "60", "start"])  # fmt: skip
        self.psql(f"CREATE DATABASE {self.database}", database="postgres")
        return self

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL through psql (as the cluster's superuser)."""
        result = self._run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                            self.user, "-d", database or self.database, "-At", "-c", sql])  # fmt: skip
        return result.stdout.strip()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


_RUNNING: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _no_server_left_behind() -> None:
    """A test that failed half-way must not leave a server running after the session."""
    for proc in list(_RUNNING):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class ServerProcess:
    """``osago-server serve`` as a child process; ``kill()`` is SIGKILL, ``start()`` brings it back."""

    data_dir: Path
    db_url: str | None = None
    port: int = field(default_factory=free_port)
    config: Path = REPO / "config" / "server.toml"
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_file(self) -> Path:
        """The server's encryption key file (its default place in the data directory)."""
        return self.data_dir / "keys" / "server.key"

    def keyring(self) -> Keyring:
        """The server's keys, for a test that opens its database (the file is made if the server has not yet)."""
        return Keyring.from_file(self.key_file, create=True)

    def database(self) -> Database:
        """The server's database opened with its keys (the caller closes it)."""
        assert self.db_url is not None, "this server uses the SQLite file in its data directory"
        return open_database(self.db_url, keyring=self.keyring(), create=False)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "OSAGO_SERVER_CONFIG": str(self.config), "OSAGO_SERVER_DATA__DIR": str(self.data_dir)}
        if self.db_url:
            env["OSAGO_SERVER_DATABASE__URL"] = self.db_url
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run another ``osago-server`` command against the same config and database."""
        return subprocess.run([sys.executable, "-m", "server", *args], env=self.env(), cwd=REPO, input=input, check=False,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    def start(self, timeout: float = 30) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / "server.log"
        argv = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log", "--workers", str(self.workers)]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env(), cwd=REPO, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        _RUNNING.add(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not come up:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the server (and its workers: they share its process group)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def add_kiosk(self, kiosk_id: str, key_file: Path) -> str:
        result = self.cli("kiosk", "add", kiosk_id, "--key-file", str(key_file))
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


class FlakyProxy:
    """A TCP proxy on loopback that forwards to ``target`` and drops a share of connections.

    ``drop`` is the probability that a connection is cut: either before anything is forwarded or in
    the middle of the answer (after the request reached the server), the two ways a network fails.
    """

    def __init__(self, target_port: int, drop: float = 0.3, seed: int = 7) -> None:
        self.target_port = target_port
        self.drop = drop
        self.random = random.Random(seed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.dropped = 0
        self.forwarded = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        fate = self.random.random()
        if fate < self.drop / 2:
            self.dropped += 1
            client.close()
            return
        cut_answer = fate < self.drop
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        self.forwarded += 1
        answered = 0
        with client, upstream:
            sockets = [client, upstream]
            while not self._stop.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.5)
                if not readable:
                    continue
                for source in readable:
                    try:
                        data = source.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    if source is upstream:
                        answered += len(data)
                        if cut_answer:
                            # The server did the work; the kiosk never hears about it.
                            self.dropped += 1
                            client.sendall(data[: len(data) // 3])
                            return
                        with contextlib.suppress(OSError):
                            client.sendall(data)
                    else:
                        try:
                            upstream.sendall(data)
                        except OSError:
                            return


@contextlib.contextmanager
def running_server(data_dir: Path, db_url: str | None = None, **kw: object) -> Iterator[ServerProcess]:
    """A started server, stopped at the end."""
    server = ServerProcess(data_dir, db_url, **kw)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()
