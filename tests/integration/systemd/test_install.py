"""``systemd/install --root DIR`` builds the expected tree, modes and owners, and runs twice safely."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.service_access import MASTER_KEY_SIZE, load_master_key

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the installer creates users and chowns: root only"),
    pytest.mark.skipif(shutil.which("useradd") is None, reason="shadow's useradd is not installed"),
]

INSTALL = Path(__file__).resolve().parents[3] / "systemd" / "install"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A bare system root: root's account and the usual device groups, without 'render'."""
    etc = tmp_path / "root" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\nlp:x:7:\nvideo:x:44:\ninput:x:105:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\ndialout:*::\nlp:*::\nvideo:*::\ninput:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o600)
    return tmp_path / "root"


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSTALL), "--root", str(root), *args], capture_output=True, text=True, check=True, timeout=60
    )


def account(root: Path, name: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":")
    raise AssertionError(f"no user {name}")


def members(root: Path, group: str) -> list[str]:
    for line in (root / "etc/group").read_text().splitlines():
        if line.startswith(group + ":"):
            return line.split(":")[3].split(",")
    raise AssertionError(f"no group {group}")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_creates_the_user_dirs_config_keys_and_enabled_units(root: Path) -> None:
    install(root)

    user = account(root, "osago-kiosk")
    uid, gid = int(user[2]), int(user[3])
    assert user[5:] == ["/var/lib/osago-kiosk", "/usr/sbin/nologin"]
    for group in ("dialout", "lp", "video", "render", "input"):
        assert "osago-kiosk" in members(root, group)

    state = root / "var/lib/osago-kiosk"
    assert (mode(state), state.stat().st_uid) == (0o700, uid)
    etc = root / "etc/osago-kiosk"
    assert (mode(etc), etc.stat().st_uid, etc.stat().st_gid) == (0o750, 0, gid)
    assert (etc / "kiosk.toml").is_file() and (etc / "tariffs/6007-U.toml").is_file()
    for key in ("service-card.key", "data.key"):
        path = etc / key
        assert (mode(path), path.stat().st_uid) == (0o600, uid)
        assert len(bytes.fromhex(path.read_text().strip())) == MASTER_KEY_SIZE

    units = root / "etc/systemd/system"
    assert sorted(p.name for p in units.glob("osago-*")) == [
        "osago-kiosk-sync.service",
        "osago-kiosk-sync.timer",
        "osago-kiosk.service",
    ]
    assert (units / "graphical.target.wants/osago-kiosk.service").is_symlink()
    assert (units / "timers.target.wants/osago-kiosk-sync.timer").is_symlink()
    assert not list(root.rglob("*vpcd*")) and not list(root.rglob("reader.conf*"))


def test_the_kiosk_reads_the_installed_config_and_master_key(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(root)
    etc = root / "etc/osago-kiosk"
    for line in (etc / "kiosk.env").read_text().splitlines():
        name, value = line.split("=", 1)
        # Paths in the env file are absolute on the kiosk; here they live under the test root.
        monkeypatch.setenv(name, str(root) + value if value.startswith("/etc/") else value)

    settings = load_settings(etc / "kiosk.toml")

    assert settings.cardreader.url == "pcsc://"
    key = load_master_key(settings.path(settings.service_card.master_key_file))
    assert key == bytes.fromhex((etc / "service-card.key").read_text())


def test_a_second_run_keeps_keys_and_config(root: Path) -> None:
    install(root)
    uid = account(root, "osago-kiosk")[2]
    etc = root / "etc/osago-kiosk"
    (etc / "kiosk.toml").write_text("# edited on site\n")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in etc.iterdir() if p.is_file()}

    install(root)

    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in etc.iterdir() if p.is_file()}
    assert after == before
    assert account(root, "osago-kiosk")[2] == uid
    assert [line.split(":")[0] for line in (root / "etc/passwd").read_text().splitlines()].count("osago-kiosk") == 1


def test_the_server_role_installs_only_the_server_unit(root: Path) -> None:
    install(root, "--role", "server", "--no-enable")

    assert account(root, "osago-server")[6] == "/usr/sbin/nologin"
    assert mode(root / "var/lib/osago-server") == 0o700
    assert [p.name for p in (root / "etc/systemd/system").glob("osago-*")] == ["osago-server.service"]
    assert not (root / "etc/osago-kiosk").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    etc = root / "etc/osago-server"
    assert (etc / "server.toml").is_file() and (etc / "tariffs/6007-U.toml").is_file()
    assert (etc / "rsa_simulator.toml").is_file() and not (etc / "kiosk.toml").exists()


def test_the_server_reads_the_installed_config_with_the_units_environment(root: Path) -> None:
    from server.config import load_server_settings

    install(root, "--role", "server", "--no-enable")
    unit = (root / "etc/systemd/system/osago-server.service").read_text(encoding="utf-8")
    env = dict(
        pair.split("=", 1)
        for line in unit.splitlines()
        if line.startswith("Environment=")
        for pair in line.removeprefix("Environment=").split()
    )
    assert "/osago-server serve" in unit

    settings = load_server_settings(
        root / env["OSAGO_SERVER_CONFIG"].lstrip("/"), data={"dir": str(root) + env["OSAGO_SERVER_DATA__DIR"]}
    )

    assert settings.database_url == f"sqlite:///{root}/var/lib/osago-server/server.db"
    assert settings.path(settings.tariffs.dir) == root / "etc/osago-server/tariffs"
    assert settings.path(settings.rsa.dataset).is_file()
