"""An ``escpos+file://`` URL never truncates or takes over a file that is not the printer's own spool.

Every path here is inside the test's temporary directory: a decoy file stands for ``/etc/passwd`` and
must stay byte-identical whatever the kiosk is asked to do with it.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.printer import PrinterPathError, PrinterURLError, open_printer
from drivers.printer.escpos_backend import open_device_file
from kiosk.documents.samples import sample_document

REPO = Path(__file__).resolve().parents[2]
DECOY = b"root:x:0:0:root:/root:/bin/bash\n" * 20


@pytest.fixture
def decoy(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    path.write_bytes(DECOY)
    return path


def test_an_existing_file_is_not_a_ready_printer_and_is_never_written(decoy: Path) -> None:
    before = decoy.stat()
    printer = open_printer(f"escpos+file://{decoy}")
    try:
        status = printer.status()
        forced = printer.print_document(sample_document("test", printer.profile), precheck=False)
        printer.cut()
    except PrinterPathError as exc:
        assert exc.code == "foreign_file"
    finally:
        printer.close()

    assert not status.ready and status.codes == ("foreign_file",)
    assert not forced.ok and forced.bytes_sent == 0
    assert decoy.read_bytes() == DECOY
    assert decoy.stat().st_mtime_ns == before.st_mtime_ns


def test_a_symlink_to_someone_elses_file_is_refused_the_same_way(tmp_path: Path, decoy: Path) -> None:
    link = tmp_path / "lp0"
    link.symlink_to(decoy)

    with pytest.raises(PrinterPathError) as refused:
        open_device_file(str(link))

    assert refused.value.code == "foreign_file"
    assert decoy.read_bytes() == DECOY


def test_append_1_appends_after_what_the_file_held_and_never_truncates(decoy: Path) -> None:
    printer = open_printer(f"escpos+file://{decoy}?append=1")
    try:
        result = printer.print_document(sample_document("letter", printer.profile))
    finally:
        printer.close()

    assert result.ok
    data = decoy.read_bytes()
    assert data.startswith(DECOY) and len(data) > len(DECOY)


def test_a_missing_file_becomes_a_private_spool_that_stays_ours_across_reconnects(tmp_path: Path) -> None:
    spool = tmp_path / "spool.bin"
    printer = open_printer(f"escpos+file://{spool}")
    try:
        first = printer.print_document(sample_document("letter", printer.profile))
        size = spool.stat().st_size
        printer.close()  # the next job reopens the file: it is ours, so it is not refused
        second = printer.print_document(sample_document("memo", printer.profile))
    finally:
        printer.close()

    assert first.ok and second.ok
    assert spool.stat().st_size > size > 0
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600
    # A new process does not know the file: a non-empty spool needs append=1 from now on.
    with pytest.raises(PrinterPathError):
        open_device_file(str(spool))


def test_an_empty_existing_file_is_a_spool(tmp_path: Path) -> None:
    spool = tmp_path / "empty.bin"
    spool.touch()

    device, transport = open_device_file(str(spool))
    device.close()

    assert transport is None


@pytest.mark.timeout(10)
def test_a_directory_a_fifo_and_a_socket_are_not_printers(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for path in (tmp_path, fifo, sock_path):
            printer = open_printer(f"escpos+file://{path}")
            status = printer.status()  # a FIFO without a reader would block an open for writing
            printer.close()
            assert status.codes == ("not_a_printer",), path
    finally:
        server.close()


@pytest.mark.parametrize(
    "url",
    [
        "lpt://printer",
        "escpos+file://",
        "escpos+file:///tmp/x?apend=1",
        "escpos+file:///tmp/x?append=maybe",
        "escpos+tcp://127.0.0.1?timeout=abc",
        "escpos+tcp://127.0.0.1?timeout=１",
        "escpos+serial:///dev/ttyS0?parity=X",
        "escpos+serial:///dev/ttyS0?baudrate=９６００",
        "sim://printer?paper_lines=many",
    ],
)
def test_bad_printer_urls_are_refused_before_anything_is_opened(url: str) -> None:
    with pytest.raises(PrinterURLError):
        open_printer(url)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("url", "code", "words"),
    [
        ("lpt://printer", 2, "unknown printer URL scheme"),
        ("escpos+file://", 2, "needs a path"),
        ("escpos+file://{decoy}?apend=1", 2, "unknown option"),
        ("escpos+file://{decoy}", 1, "чужой непустой файл"),
        ("escpos+file://{dir}", 1, "не принтер"),
    ],
)
def test_printer_status_says_it_in_one_line_with_its_exit_code(
    tmp_path: Path, decoy: Path, url: str, code: int, words: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk", "printer", "--url", url.format(decoy=decoy, dir=tmp_path), "status"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip

    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert words in proc.stdout + proc.stderr
    assert decoy.read_bytes() == DECOY
