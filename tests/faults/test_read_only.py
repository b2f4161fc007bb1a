"""A read-only data directory (its file system remounted read-only, as ext4 does after I/O errors), and
the touchscreen on a refused journal: every command refuses with exit 75 and one log line, never a
traceback, and ``osago-kiosk run`` shows the out-of-service screen, tells systemd it is up, and exits
with 75 for systemd to start it again. Back to read-write, the same journal sells again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.journal_faults import mounted_tmpfs, refused, remount, small_disk
from tests.support.kiosk_processes import REPO, Simulators, run_kiosk, write_config

pytestmark = pytest.mark.integration


def configure_server_key(config: Path, root: Path) -> None:
    """A server URL and key, so that ``sync`` gets as far as the journal (nothing listens there)."""
    key = root / "server.key"
    key.write_text("ab" * 32 + "\n", encoding="ascii")
    key.chmod(0o600)
    with config.open("a", encoding="utf-8") as out:
        out.write(f'[server]\nurl = "http://127.0.0.1:9"\nkey_file = "{key}"\nretries = 0\nconnect_timeout = 1\n')


def test_a_read_only_data_directory_is_refused_by_every_command_and_sells_again_when_writable(
    tmp_path: Path, sims: Simulators
) -> None:
    data = tmp_path / "data"
    try:
        mount = mounted_tmpfs(data, size="32m")
        mount.__enter__()
    except OSError as exc:
        pytest.skip(str(exc))
    try:
        config = write_config(tmp_path)
        small_disk(config)
        configure_server_key(config, tmp_path)
        devices = ("--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url)
        assert run_kiosk(config, "demo", "--sales", "1", *devices).returncode == 0
        ledger = sims.ledger.read_text()
        remount(data, "ro")
        for args in (("demo", "--recover-only", *devices), ("demo", "--sales", "1", *devices), ("journal",),
                     ("journal", "check"), ("diag", *devices), ("sync", "--quiet")):  # fmt: skip
            result = refused(config, *args)
            assert result.code == 75, f"{args[0]}: {result.output}"
            assert len(result.refusals) == 1 and "[read_only]" in result.refusals[0], result.output
            assert result.tracebacks == 0, result.output
        assert sims.ledger.read_text() == ledger, "no payment on a read-only journal"
        check = run_kiosk(config, "journal", "check")
        assert "только для чтения" in check.stdout
        remount(data, "rw")
        assert run_kiosk(config, "demo", "--sales", "1", *devices).returncode == 0
    finally:
        mount.__exit__(None, None, None)


def test_the_touchscreen_on_a_refused_journal_is_out_of_service_then_exits_75_for_systemd(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_kiosk(config, "demo", "--sales", "0").returncode == 0  # the journal and its sidecar exist
    (tmp_path / "data" / "journal.db").unlink()  # …and the journal is gone
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        SDL_VIDEODRIVER="offscreen", NOTIFY_SOCKET=str(tmp_path / "notify.sock"), PYTHONUNBUFFERED="1",
        OSAGO_UI__OUT_OF_SERVICE_MINUTES="0.5", OSAGO_UI__OUT_OF_SERVICE_RECHECK_SECONDS="5",
        RUNTIME_DIRECTORY=str(tmp_path / "run"),
    )  # fmt: skip
    (tmp_path / "run").mkdir()
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "run"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    took = time.monotonic() - began
    messages = []
    notify.settimeout(0.5)
    try:
        while True:
            messages.append(notify.recv(4096).decode())
    except TimeoutError:
        pass
    finally:
        notify.close()
    assert proc.returncode == 75, proc.stderr[-3000:]
    refusals = [line for line in proc.stderr.splitlines() if "journal refused [journal_missing]" in line]
    assert len(refusals) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "ready: out of service (journal_missing)" in proc.stderr
    assert any(m.startswith("READY=1") for m in messages), messages
    assert any("out of service" in m for m in messages), messages
    assert 25 < took < 100, f"the out-of-service screen stayed {took:.0f} s"
    assert not (tmp_path / "data" / "journal.db").exists(), "the kiosk started an empty journal by itself"
    assert (tmp_path / "run" / "journal-refusals").read_text() == "1", "the next refusal waits twice as long"
