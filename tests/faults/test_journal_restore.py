"""Restoring a backup against a real central server: sales made after the backup and synced come back
from the server as they ended (never charged twice), a payment the terminal committed for a sale that
neither the backup nor the server knows is flagged with its money, and a data directory put back from an
old image wholesale (journal and sidecar together, consistent with each other) is caught by the server's
record of this kiosk before it sells."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.support.journal_faults import check_money, refused
from tests.support.kiosk_processes import Simulators, run_kiosk, write_config
from tests.support.server_process import running_server

pytestmark = pytest.mark.integration


def test_a_restored_backup_gets_its_missing_sales_from_the_server_and_flags_the_payment_only_the_terminal_knows(
    tmp_path: Path, sims: Simulators
) -> None:
    key = tmp_path / "kiosk.key"
    with running_server(tmp_path / "server") as server:
        server.add_kiosk("KIOSK-CRASH", key)
        config = write_config(tmp_path)
        with config.open("a", encoding="utf-8") as out:
            out.write(f'[server]\nurl = "{server.url}"\nkey_file = "{key}"\nretries = 1\nbackoff = 0.1\n')
        data = tmp_path / "data"
        devices = ("--terminal-url", sims.terminal_url, "--printer-url", sims.printer_url)

        def sync() -> None:
            done = run_kiosk(config, "sync", "--quiet")
            assert done.returncode == 0, done.stderr

        assert run_kiosk(config, "demo", "--sales", "2", "--seed", "1", *devices).returncode == 0
        sync()
        # Last night's backup — and, for the second half, the whole data directory as an old image has it.
        image = tmp_path / "image"
        image.mkdir()
        with sqlite3.connect(data / "journal.db") as source, sqlite3.connect(image / "journal.db") as copy:
            source.backup(copy)
        shutil.copy2(data / "journal.sidecar", image / "journal.sidecar")
        backup = tmp_path / "journal-KIOSK-CRASH-night.db"
        shutil.copy2(image / "journal.db", backup)

        assert run_kiosk(config, "demo", "--sales", "2", "--seed", "2", *devices).returncode == 0
        sync()  # these two reached the server; the backup lacks them
        killed = run_kiosk(config, "demo", "--sales", "1", "--seed", "3", "--crash-at", "confirmed_by_terminal",
                           *devices)  # fmt: skip
        assert killed.returncode == -signal.SIGKILL  # committed at the terminal; never synced

        # The data directory put back from the old image: journal and sidecar agree, the server does not.
        for leftover in data.glob("journal.db*"):
            leftover.unlink()
        shutil.copy2(image / "journal.db", data / "journal.db")
        shutil.copy2(image / "journal.sidecar", data / "journal.sidecar")
        ledger = sims.ledger.read_text()
        for args in (("journal", "check"), ("demo", "--sales", "1", *devices)):
            result = refused(config, *args)
            assert result.code == 75 and result.tracebacks == 0, result.output
            assert len(result.refusals) == 1 and "[server_ahead]" in result.refusals[0], result.output
        assert sims.ledger.read_text() == ledger

        restored = run_kiosk(config, "journal", "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        recovered = run_kiosk(config, "demo", "--recover-only", *devices)
        assert recovered.returncode == 0, recovered.stderr
        assert "restored journal reconciled" in recovered.stderr
        assert run_kiosk(config, "demo", "--sales", "1", "--seed", "4", *devices).returncode == 0
        sync()
        assert run_kiosk(config, "journal", "check").returncode == 0

        sales = json.loads(run_kiosk(config, "journal", "--json").stdout)
        assert [s["state"] for s in sales].count("completed") == 5
        result = check_money(config, sims, data / "insurer-sim.sqlite", expected_sales=6)
        assert result.charged_without_policy == [] and result.base.double_charges == []
        assert result.base.lost_sales == [], result.base.lost_sales
        assert len(result.flagged) == 1 and "деньги списаны" in result.flagged[0]["flag_reason"]
        assert result.flagged[0]["terminal_receipt_no"], result.flagged[0]
        # Nothing the server had was sent again, and the flagged payment reached the operator.
        with sqlite3.connect(tmp_path / "server" / "server.db") as db:
            kinds = [row[0] for row in db.execute("SELECT kind FROM events WHERE kiosk_id = 'KIOSK-CRASH'")]
        assert kinds.count("sale.completed") == 5 and kinds.count("sale.flagged") == 1
