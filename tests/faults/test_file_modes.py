"""Every file the kiosk and the server create is 0600 and every directory 0700, whoever starts them.

The test itself runs its processes under umask 022 (what a shell started by hand or as root usually
has): the product must not depend on systemd's ``UMask=0077`` to keep the journal, the keys, the logs,
the ledgers and the databases to their owner.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server_process import running_server

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes_under(root: Path) -> dict[str, str]:
    """Every path below ``root`` whose mode gives anything to group or others (symlinks aside)."""
    loose = {}
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode & 0o077 or (path.is_dir() and mode != wanted):
            loose[str(path.relative_to(root.parent))] = f"{mode:o}"
    return loose


def kiosk_config(root: Path, server_url: str) -> Path:
    config = REPO / "config"
    path = root / "kiosk.toml"
    path.write_text(
        f"""
[kiosk]
id = "KIOSK-MODES"
[tariffs]
dir = "{config / "tariffs"}"
base_rates = "{config / "base_rates.toml"}"
[data]
dir = "{root / "data"}"
[insurer]
url = "sim://insurer"
simulator = "{config / "insurer_simulator.toml"}"
[server]
url = "{server_url}"
key_file = "{root / "data" / "server.key"}"
retries = 0
[sale]
earliest_start_days = 3
""",
        encoding="utf-8",
    )
    return path


def kiosk(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_a_sale_a_sync_and_a_server_run_leave_only_owner_only_files(tmp_path: Path, loose_umask: None) -> None:
    harness = tmp_path / "harness"  # the test's own files: the server's captured output
    server_dir = tmp_path / "server"  # created by the server itself
    with running_server(harness, extra_env={"OSAGO_SERVER_DATA__DIR": str(server_dir)}) as server:
        key = tmp_path / "kiosk" / "data" / "server.key"
        server.add_kiosk("KIOSK-MODES", key)
        config = kiosk_config(tmp_path / "kiosk", server.url)
        sale = kiosk(config, "demo", "--sales", "1")
        assert sale.returncode == 0, sale.stdout + sale.stderr
        sync = kiosk(config, "sync", "--quiet", "--tariffs-now")
        assert sync.returncode == 0, sync.stderr
    data = tmp_path / "kiosk" / "data"

    created = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {
        "kiosk/data/journal.db",
        "kiosk/data/logs/kiosk.log",
        "kiosk/data/keys/personal.key",
        "kiosk/data/terminal-ledger.jsonl",
        "kiosk/data/printer-jobs.jsonl",
        "server/server.db",
    } <= created
    assert any(name.startswith("kiosk/data/tariffs/bundles/") for name in created), sorted(created)
    assert modes_under(data) == {}
    assert modes_under(server_dir) == {}


def test_an_old_world_readable_journal_is_tightened_when_opened(tmp_path: Path, loose_umask: None) -> None:
    from kiosk.journal.db import open_journal

    path = tmp_path / "journal.db"
    journal = open_journal(path)
    journal.close()
    for file in tmp_path.iterdir():
        file.chmod(0o644)

    journal = open_journal(path)
    with journal.session() as session:
        session.connection()
    journal.close()

    assert {p.name: f"{stat.S_IMODE(p.stat().st_mode):o}" for p in tmp_path.iterdir()} == dict.fromkeys(
        [p.name for p in tmp_path.iterdir()], "600"
    )


def test_an_installed_tariff_bundle_is_owner_only(tmp_path: Path, loose_umask: None) -> None:
    from kiosk.tariff_store import install_bundle
    from kiosk.tariffs.bundle import TariffBundle

    tables = {path.name: path.read_bytes() for path in (REPO / "config" / "tariffs").glob("*.toml")}
    bundle = TariffBundle.build(tables, "base_rates.toml", (REPO / "config" / "base_rates.toml").read_bytes())
    (tmp_path / "data").mkdir(mode=0o700)  # as build_kiosk makes it
    install_bundle(tmp_path / "data", bundle)

    assert modes_under(tmp_path / "data") == {}
