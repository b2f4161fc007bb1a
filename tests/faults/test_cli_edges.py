"""Every subcommand of ``osago-kiosk`` and ``osago-server``, given bad arguments, a bad configuration or
a device that is not there, ends with its documented exit code (README, "Exit codes") and never with a
traceback. Everything runs in the test's temporary directory; no device path outside it is opened.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


@dataclass(frozen=True)
class Case:
    """One command line and the exit code the README promises for it."""

    program: str  # "kiosk" or "server"
    args: tuple[str, ...]
    code: int
    words: str = ""  # something the one line must say
    stdin: str = ""

    @property
    def command(self) -> str:
        """``terminal``, ``simulate printer``, ``kiosk`` ... (for the coverage check)."""
        words = [a for a in self.args if not a.startswith("-") and "{" not in a]
        return " ".join(words[:2]) if words[:1] == ["simulate"] else (words[0] if words else "")


def kiosk(*args: str, code: int, words: str = "", stdin: str = "") -> Case:
    return Case("kiosk", ("--config", "{config}", *args), code, words, stdin)


def bare_kiosk(*args: str, code: int, words: str = "", stdin: str = "") -> Case:
    return Case("kiosk", args, code, words, stdin)


def server(*args: str, code: int, words: str = "", stdin: str = "") -> Case:
    return Case("server", args, code, words, stdin)


NODEV = "zvt://{tmp}/no-such-tty"
TERMINAL_ACTIONS = [("status",), ("register",), ("pay", "10"), ("reverse", "1"), ("refund", "10"), ("end-of-day",),
                    ("diagnosis",), ("repeat-receipt",)]  # fmt: skip
CLOSED_TCP = "escpos+tcp://127.0.0.1:9?timeout=1"
KIOSK_CASES = [
    bare_kiosk(code=2, words="required"),
    bare_kiosk("no-such-command", code=2, words="invalid choice"),
    kiosk("quote", "--input", "-", stdin="{not json", code=2, words="JSON"),
    kiosk("quote", "--input", "{tmp}/missing.json", code=2, words="Не удалось прочитать"),
    bare_kiosk("--config", "{tmp}/missing.toml", "quote", "--input", "-", stdin="{}", code=1, words="Тарифы"),
    kiosk("demo", "--sales", "many", code=2, words="--sales"),
    kiosk("demo", "--crash-at", "paid:0", code=2, words="--crash-at"),
    bare_kiosk("--config", "{tmp}/missing.toml", "demo", code=2, words="ошибка конфигурации"),
    bare_kiosk("--config", "{tmp}/broken.toml", "demo", code=2, words="ошибка конфигурации"),
    kiosk("demo", "--printer-url", "lpt://x", code=2, words="адрес принтера"),
    kiosk("demo", "--terminal-url", "bogus://x", code=2, words="адрес терминала"),
    kiosk("demo", "--terminal-url", NODEV, code=3, words="устройство недоступно"),
    # A data directory that is a file is the journal guard's refusal (exit 75), like a read-only one.
    bare_kiosk("--config", "{tmp}/file-data.toml", "demo", code=75, words="no sale on it"),
    kiosk("journal", "--limit", "-1", code=2, words="--limit"),
    bare_kiosk("--config", "{tmp}/missing.toml", "journal", code=2, words="ошибка конфигурации"),
    kiosk("diag", "--terminal-url", "bogus://x", code=2, words="адрес терминала"),
    kiosk("diag", "--terminal-url", NODEV, "--no-health-event", code=3, words="устройство недоступно"),
    bare_kiosk("--config", "{tmp}/missing.toml", "diag", code=2, words="ошибка конфигурации"),
    bare_kiosk("terminal", "status", code=2, words="--url"),
    bare_kiosk("terminal", "--url", "sim://terminal", "pay", "１２３.４５", code=2, words="0–9"),
    bare_kiosk("terminal", "--url", "sim://terminal", "refund", "12.345", code=2, words="0–9"),
    bare_kiosk("terminal", "--url", "sim://terminal", "reverse", "１", code=2, words="номер чека"),
    bare_kiosk("terminal", "--url", "zvt://{tmp}/x?nonsense=1", "status", code=2, words="адрес терминала"),
    bare_kiosk("terminal", "--url", "zvt://{tmp}/x?max_amount=５", "status", code=2, words="max_amount"),
    *(
        bare_kiosk("terminal", "--url", NODEV, *action, code=3, words="терминал недоступен")
        for action in TERMINAL_ACTIONS
    ),
    bare_kiosk("printer", "--url", "lpt://x", "status", code=2, words="unknown printer URL scheme"),
    bare_kiosk("printer", "--url", "escpos+file://", "status", code=2, words="needs a path"),
    bare_kiosk("printer", "--url", "escpos+file://{tmp}/decoy?apend=1", "status", code=2, words="unknown option"),
    bare_kiosk("printer", "--url", "escpos+file://{tmp}/decoy", "status", code=1, words="чужой"),
    bare_kiosk("printer", "--url", "escpos+file://{tmp}", "status", code=1, words="не принтер"),
    bare_kiosk("printer", "--url", "escpos+file://{tmp}/decoy", "print", "test", "--sample", "--force", code=1),
    bare_kiosk("printer", "--url", CLOSED_TCP, "print", "letter", "--sample", code=1, words="не отвечает"),
    bare_kiosk("printer", "--url", "escpos+tcp://h?profile=nope", "preview", "letter", "--sample", code=2),
    bare_kiosk("service-card", "pin-hash", "--stdin", stdin="12\n", code=2),
    kiosk("service-card", "card-key", "TECH-1", code=2, words="master.key"),
    kiosk("service-card", "check", "--timeout", "1", "--stdin", code=2, words="master.key"),
    kiosk("sync", "--quiet", code=2, words="не настроено"),
    kiosk("sync", "--quiet", "--url", "ftp://x", code=2, words="не настроено"),
    bare_kiosk("--config", "{tmp}/loose-key.toml", "sync", "--quiet", code=2, words="600"),
    bare_kiosk("--config", "{tmp}/keyed.toml", "sync", "--quiet", "--url", "http://127.0.0.1:9", code=3),
    bare_kiosk("--config", "{tmp}/missing.toml", "run", code=2, words="ошибка конфигурации"),
    bare_kiosk("simulate", "terminal", "--tcp", "127.0.0.1:99999", code=2, words="--tcp"),
    bare_kiosk("simulate", "terminal", "--pty", "--link", "{tmp}/decoy/zvt", code=74, words="ошибка ввода-вывода"),
    bare_kiosk("simulate", "printer", "--port", "99999", code=2, words="--port"),
    bare_kiosk("simulate", "printer", "--port", "0", "--jobs", "{tmp}/decoy/jobs", code=74),
]
SERVER_CASES = [
    server(code=2, words="required"),
    server("serve", "--port", "99999", code=2, words="--port"),
    server("serve", "--workers", "0", code=2, words="--workers"),
    server("serve", "--config", "{tmp}/missing.toml", code=2, words="configuration"),
    server("serve", "--db", "sqlite:///{tmp}/decoy/server.db", code=74, words="ошибка ввода-вывода"),
    server("migrate", "--db", "nonsense", code=2, words="адрес базы данных"),
    server("migrate", "--db", "postgresql+psycopg://nobody@127.0.0.1:9/x", code=3, words="база данных недоступна"),
    server("kiosk", "add", code=2, words="kiosk id required"),
    server("kiosk", "add", "two words", code=2, words="kiosk id"),
    server("kiosk", "add", "K-1", "--key-file", "{tmp}/decoy/key", code=74, words="ошибка ввода-вывода"),
    server("kiosk", "disable", "NO-SUCH", code=1, words="no kiosk"),
    server("kiosk", "list", "--config", "{tmp}/broken.toml", code=2, words="configuration"),
    server("operator", "add", code=2, words="NAME"),
    server("operator", "hash", "--password-stdin", stdin="short\n", code=2, words="8"),
    server("operator", "add", "bob", "--password-stdin", "--config", "{tmp}/missing.toml", stdin="x" * 12, code=2),
    server("renewals", "--date", "2026-13-01", code=2, words="--date"),
    server("renewals", "--workers", "0", code=2, words="--workers"),
    server("keys", "rotate", "--config", "{tmp}/missing.toml", code=2, words="configuration"),
    server("keys", "spin", code=2, words="invalid choice"),
]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "decoy").write_text("not a directory, not a printer\n", encoding="utf-8")
    (tmp / "broken.toml").write_text("[kiosk\nid=", encoding="utf-8")
    base = f"""
[kiosk]
id = "KIOSK-EDGE"
[tariffs]
dir = "{CONFIG / "tariffs"}"
base_rates = "{CONFIG / "base_rates.toml"}"
[insurer]
url = "sim://insurer"
simulator = "{CONFIG / "insurer_simulator.toml"}"
[service_card]
master_key_file = "{tmp / "master.key"}"
"""
    (tmp / "kiosk.toml").write_text(
        base + f'[data]\ndir = "{tmp / "data"}"\n[server]\nkey_file = "{tmp / "server.key"}"\n', encoding="utf-8"
    )
    (tmp / "file-data.toml").write_text(base + f'[data]\ndir = "{tmp / "decoy" / "data"}"\n', encoding="utf-8")
    for name, key, mode in (("loose-key", "loose.key", 0o644), ("keyed", "good.key", 0o600)):
        (tmp / key).write_text("ab" * 32 + "\n", encoding="ascii")
        (tmp / key).chmod(mode)
        (tmp / f"{name}.toml").write_text(
            base + f'[data]\ndir = "{tmp / "data"}"\n[server]\nurl = "http://127.0.0.1:9"\nkey_file = "{tmp / key}"\n'
            "retries = 0\nconnect_timeout = 1\n",
            encoding="utf-8",
        )
    return {"tmp": tmp, "config": tmp / "kiosk.toml"}


def run_case(case: Case, rig: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    tmp = rig["tmp"]
    args = [a.format(tmp=tmp, config=rig["config"]) for a in case.args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSAGO_", "DISPLAY", "WAYLAND"))}
    env.update({"OSAGO_SERVER_CONFIG": str(CONFIG / "server.toml"), "OSAGO_SERVER_DATA__DIR": str(tmp / "server-data"),
                "OSAGO_KIOSK_CONFIG": str(rig["config"]), "KIVY_NO_ARGS": "1"})  # fmt: skip
    return subprocess.run([sys.executable, "-P", "-m", case.program, *args], input=case.stdin, capture_output=True,
                          text=True, timeout=120, check=False, cwd=tmp, env=env)  # fmt: skip


def _id(case: Case) -> str:
    return f"{case.program}:{' '.join(case.args).replace('{config}', 'CFG')[:70]}"


@pytest.mark.parametrize("case", KIOSK_CASES + SERVER_CASES, ids=_id)
def test_a_bad_command_line_ends_with_its_documented_code_and_no_traceback(case: Case, rig: dict[str, Path]) -> None:
    proc = run_case(case, rig)

    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == case.code, (proc.stdout, proc.stderr)
    assert case.words in proc.stdout + proc.stderr
    assert (rig["tmp"] / "decoy").read_text(encoding="utf-8") == "not a directory, not a printer\n"


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name == "simulate" and not prefix:
                    names |= {f"simulate {n}" for n in _commands(sub, "simulate")}
                elif not prefix or prefix == "simulate":
                    names.add(name)
    return names


def test_every_subcommand_of_both_programs_has_a_bad_input_case() -> None:
    from kiosk.cli import build_parser as kiosk_parser
    from server.cli import build_parser as server_parser

    covered = {(c.program, c.command) for c in KIOSK_CASES + SERVER_CASES}

    assert {("kiosk", name) for name in _commands(kiosk_parser())} <= covered
    assert {("server", name) for name in _commands(server_parser())} <= covered
