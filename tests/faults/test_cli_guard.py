"""The last guard of both CLIs: an exception nobody foresaw is one line on stderr and exit 70, with the
traceback in the program's log file (and on stderr only with ``-vv``)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.crash import EXIT_INTERNAL, EXIT_IO, report_unexpected

REPO = Path(__file__).resolve().parents[2]
EXPLODING = ("tests.faults.exploding_command",)


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """The guard attaches the data directory's log file to the root logger: take it off afterwards."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[data]\ndir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return path


def test_an_unforeseen_error_is_one_line_and_70_with_the_traceback_in_the_log(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_logging: None
) -> None:
    umask = os.umask(0o022)
    try:
        code = main(["--config", str(config), "explode"], modules=EXPLODING)
        assert os.umask(0o022) == 0o022  # main set 077 for its run and gave the caller's umask back
    finally:
        os.umask(umask)
    err = capsys.readouterr().err

    assert code == EXIT_INTERNAL
    assert "Traceback" not in err
    log = tmp_path / "data" / "logs" / "kiosk.log"
    assert err.strip().splitlines() == [
        f"osago-kiosk: внутренняя ошибка (RuntimeError: a bug nobody foresaw); подробности в {log}"
    ]
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "raise RuntimeError" in text and "[exit 70]" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_with_vv_the_traceback_is_on_stderr_too(
    config: Path, capsys: pytest.CaptureFixture[str], clean_logging: None
) -> None:
    code = main(["-vv", "--config", str(config), "explode"], modules=EXPLODING)

    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("osago-kiosk: внутренняя ошибка")


def test_without_a_usable_config_the_line_says_how_to_see_the_details(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_logging: None
) -> None:
    code = main(["--config", str(tmp_path / "missing.toml"), "explode"], modules=EXPLODING)

    assert code == EXIT_INTERNAL
    assert capsys.readouterr().err.strip().endswith("подробности: запустите с -vv")


def test_the_server_guard_logs_to_its_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_logging: None
) -> None:
    from server.cli import _run

    monkeypatch.setenv("OSAGO_SERVER_DATA__DIR", str(tmp_path / "srv"))

    def boom(args: argparse.Namespace) -> int:
        raise KeyError("lost")

    code = _run(argparse.Namespace(handler=boom, verbose=0, config=str(REPO / "config" / "server.toml"), db=None))

    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL and "Traceback" not in err
    assert "KeyError" in (tmp_path / "srv" / "logs" / "server.log").read_text(encoding="utf-8")


def test_a_file_error_names_the_file_in_russian(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    error = OSError(28, "No space left on device", str(tmp_path / "journal.db"))

    code = report_unexpected(error, program="osago-kiosk", verbose=0)

    assert code == EXIT_IO
    assert (
        capsys.readouterr().err.strip()
        == f"osago-kiosk: ошибка ввода-вывода: {tmp_path / 'journal.db'}: нет места на диске"
    )
