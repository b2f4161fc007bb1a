"""The real escpos backend against the printer simulator over real transports (TCP, pty), and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.printer import ReceiptPrinter, load_profile, open_printer
from drivers.printer.formatter import render
from drivers.printer.simulator import JobJournal, PrinterModel, PrinterSimulator, SimulatedPrinter, control
from kiosk.documents.samples import sample_document

pytestmark = pytest.mark.integration

CLI = [
    sys.executable,
    "-c",
    "import sys; from kiosk.cli import main; sys.exit(main(sys.argv[1:], modules=('kiosk.cli.printer',)))",
]


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI and capture its output; the exit code is what the tests check."""
    return subprocess.run(args, check=False, text=True, capture_output=True)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    printer = open_printer(f"sim://printer?jobs={tmp_path / 'jobs.jsonl'}")
    assert isinstance(printer, SimulatedPrinter)
    yield printer
    printer.close()


@pytest.mark.parametrize(
    ("fault", "ready", "codes"),
    [
        (None, True, ()),
        ("near-end", True, ("paper_near_end",)),
        ("paper-out", False, ("offline", "paper_end", "paper_near_end")),
        ("cover-open", False, ("offline", "cover_open")),
        ("offline", False, ("offline",)),
        ("cutter-error", False, ("offline", "error", "cutter_error")),
        ("no-reply", False, ("no_reply",)),
        ("garbage-reply", False, ("malformed_reply",)),
    ],
)
def test_status_over_tcp_reflects_each_injected_fault(
    sim: SimulatedPrinter, fault: str | None, ready: bool, codes: tuple[str, ...]
) -> None:
    if fault:
        sim.simulator.set_fault(fault)
    started = time.monotonic()
    report = sim.status()
    assert time.monotonic() - started < 1.0  # short timeouts even when the printer is silent
    assert report.ready is ready
    assert report.codes == codes


def test_a_printed_policy_is_journalled_with_its_text_qr_and_exact_bytes(sim: SimulatedPrinter, tmp_path: Path) -> None:
    document = sample_document("policy", sim.profile)
    result = sim.print_document(document)
    assert result.ok and result.sent
    (job,) = JobJournal.read(tmp_path / "jobs.jsonl")
    assert job["state"] == "cut"
    assert "Серия ХХХ № 0123456789" in job["text"]
    assert job["qr"] == list(document.qr_codes)
    assert job["sha256"] == hashlib.sha256(render(document, sim.profile)).hexdigest()


def test_a_job_that_runs_out_of_paper_is_failed_and_finishes_only_after_the_paper_is_replaced(
    sim: SimulatedPrinter,
) -> None:
    sim.simulator.set_paper(20)  # the roll ends in the middle of the policy
    result = sim.print_document(sample_document("policy", sim.profile))
    assert result.sent and result.failed and result.ran_out_of_paper
    assert sim.simulator.jobs == []  # nothing was cut yet: the rest is held in the printer
    sim.simulator.set_paper(None)
    sim.simulator.set_fault("paper-out", active=False)
    (job,) = sim.simulator.wait_for_jobs(1)
    assert job["paper_out_during_job"] is True  # the reconciliation sees the damaged copy


def test_nothing_is_sent_to_a_printer_that_is_not_ready(sim: SimulatedPrinter) -> None:
    sim.simulator.set_fault("cover-open")
    result = sim.print_document(sample_document("memo", sim.profile))
    assert not result.sent and result.failed
    sim.simulator.set_fault("cover-open", active=False)
    time.sleep(0.1)
    assert sim.simulator.jobs == []


def test_the_custom_presenter_presents_and_a_ticket_left_behind_blocks_the_next_sale(tmp_path: Path) -> None:
    printer = open_printer("sim://printer?profile=custom-vkp80")
    try:
        assert isinstance(printer, SimulatedPrinter)
        assert printer.print_document(sample_document("letter", printer.profile)).ok
        (job,) = printer.simulator.wait_for_jobs(1)
        assert job["presented"] is True
        printer.simulator.set_fault("ticket-not-taken")
        assert printer.status().codes == ("ticket_not_taken",)
    finally:
        printer.close()


def test_the_standalone_simulator_takes_faults_from_another_process(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    proc = subprocess.Popen(
        [*CLI, "simulate", "printer", "--port", "0", "--control-port", "0", "--jobs", str(jobs)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        host, port = info["printer"].split(":")
        chost, cport = info["control"].split(":")
        url = f"escpos+tcp://{host}:{port}"
        assert control((chost, int(cport)), "fault set paper-out")["faults"] == ["paper-out"]
        status = run_cli([*CLI, "printer", "--url", url, "status", "--json"])
        assert status.returncode == 1
        assert json.loads(status.stdout)["ready"] is False
        assert control((chost, int(cport)), "fault clear paper-out")["ok"] is True
        printed = run_cli([*CLI, "printer", "--url", url, "print", "memo", "--sample"])
        assert printed.returncode == 0, printed.stdout + printed.stderr
        assert control((chost, int(cport)), "state")["jobs"] == 1
        (job,) = JobJournal.read(jobs)
        assert "ПАМЯТКА ПРИ ДТП" in job["text"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_cli_status_and_print_exit_codes_follow_readiness() -> None:
    ok = run_cli([*CLI, "printer", "--url", "sim://printer", "status", "--json"])
    assert ok.returncode == 0 and json.loads(ok.stdout) == {
        "ready": True,
        "summary": "Принтер готов",
        "blocking": [],
        "warnings": [],
        "raw": {"dle_eot_1": "12", "dle_eot_2": "12", "dle_eot_3": "12", "dle_eot_4": "12"},
    }
    failed = run_cli(
        [*CLI, "printer", "--url", "sim://printer?fault=paper-out", "print", "policy", "--sample", "--json"],
    )
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["sent"] is False
    printed = run_cli(
        [*CLI, "printer", "--url", "sim://printer?profile=clone-58", "print", "test", "--sample"],
    )
    assert printed.returncode == 0 and "напечатано" in printed.stdout


class PtyPrinter:
    """The simulator's printer model on the master side of a pty: a serial printer without hardware."""

    def __init__(self, profile_name: str) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.model = PrinterModel(load_profile(profile_name), JobJournal(None))
        self.model.open_connection(1, self)  # type: ignore[arg-type]
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sendall(self, data: bytes) -> None:
        os.write(self.master, data)

    def _run(self) -> None:
        import select

        while not self._stop:
            readable, _, _ = select.select([self.master], [], [], 0.05)
            if readable:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    return
                self.model.receive(1, data)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self.slave)


@pytest.mark.parametrize("scheme", ["escpos+serial", "escpos+file"])
def test_serial_and_device_file_printers_read_status_and_print(scheme: str) -> None:
    pty_printer = PtyPrinter("epson-80")
    options = "?baudrate=115200" if scheme == "escpos+serial" else ""  # a device file has no line settings
    printer: ReceiptPrinter = open_printer(f"{scheme}://{pty_printer.path}{options}")
    try:
        assert printer.status().ready
        assert printer.print_document(sample_document("letter", printer.profile)).ok
        printer.print_document(sample_document("slip", printer.profile))  # finishes the letter's job
        assert "ИНФОРМАЦИОННОЕ" in pty_printer.model.journal.records[0]["text"]
        pty_printer.model.set_fault("paper-out", True)
        assert "paper_end" in printer.status().codes
    finally:
        printer.close()
        pty_printer.close()


def test_a_regular_file_receives_the_bytes_and_reports_that_status_is_unavailable(tmp_path: Path) -> None:
    out = tmp_path / "policy.bin"
    printer = open_printer(f"escpos+file://{out}")
    try:
        result = printer.print_document(sample_document("policy", printer.profile))
    finally:
        printer.close()
    assert result.ok and result.before.codes == ("no_status_channel",)
    assert out.read_bytes() == render(sample_document("policy", printer.profile), printer.profile)


def test_an_unreachable_printer_is_not_ready_and_does_not_hang() -> None:
    with PrinterSimulator(load_profile("epson-80")) as simulator:
        port = simulator.address[1]
    printer = open_printer(f"escpos+tcp://127.0.0.1:{port}?timeout=1")
    started = time.monotonic()
    assert printer.status().codes == ("no_reply",)
    assert time.monotonic() - started < 2
    printer.close()
