"""The terminal simulator against the command spec PA00P015 13.08 where the kiosk depends on it.

Driven through the real ECR driver, or through its serial link alone where a test must say things the
driver never says (a command while the terminal is master, a Repeat Receipt without service byte).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from drivers.payment import Fate, open_terminal
from drivers.payment import messages as m
from drivers.payment.apdu import decode_apdu
from drivers.payment.ecr import ZvtTerminal
from drivers.payment.errors import TerminalRefusedError
from drivers.payment.link import Link

from .conftest import Simulator

pytestmark = pytest.mark.integration
StartSim = Callable[..., Simulator]


def connect(sim: Simulator) -> ZvtTerminal:
    terminal = open_terminal(f"{sim.url}?t2=1&goods_timeout=10&goods_hold=0.5")
    assert isinstance(terminal, ZvtTerminal)
    return terminal


def until(link: Link, control: tuple[int, int], timeout: float = 10.0) -> list[bytes]:
    """Receive (answering every PT command with 80 00 00) up to and including ``control``."""
    seen: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        apdu = link.receive(0.2)
        if apdu is None:
            continue
        seen.append(apdu)
        if decode_apdu(apdu).control == control:
            return seen
        if not m.is_response(apdu):
            link.send(m.POSITIVE)
    raise AssertionError(f"no {bytes(control).hex(' ')} within {timeout} s: {[a.hex(' ') for a in seen]}")


def test_a_restarted_simulator_rebuilds_its_last_transaction_from_the_ledger(start_simulator: StartSim) -> None:
    first = start_simulator()
    with connect(first) as terminal:
        paid = terminal.confirm_goods(terminal.authorise(Decimal("321.00")))
    first.stop()
    second = start_simulator()  # same ledger
    with connect(second) as terminal:
        last = terminal.repeat_receipt()
    assert paid.fate is Fate.COMMITTED
    assert (last.fate, last.receipt_no, last.trace, last.amount) == (
        Fate.COMMITTED,
        paid.receipt_no,
        paid.trace,
        Decimal("321.00"),
    )


def test_a_payment_a_killed_simulator_never_stored_is_reversed_when_it_restarts(start_simulator: StartSim) -> None:
    first = start_simulator()
    terminal = connect(first)
    auth = terminal.authorise(Decimal("55.00"))
    assert auth.fate is Fate.PENDING
    first.process.proc.kill()  # power cut in the goods wait: only "authorised" is in the ledger
    first.process.proc.wait()
    terminal.close()
    second = start_simulator()
    with connect(second) as terminal:
        last = terminal.repeat_receipt()
    assert (last.fate, last.original_trace) == (Fate.REVERSED, auth.trace)
    assert (second.entries()[-1].event, second.entries()[-1].reason) == ("reversed", "restart")


def test_two_simulators_never_write_one_ledger(start_simulator: StartSim, tmp_path: Path) -> None:
    start_simulator()
    argv = [sys.executable, "-m", "drivers.payment.simulator", "--pty", "--ledger", str(tmp_path / "ledger.jsonl")]
    second = subprocess.run(
        [*argv, "--ledger-lock-wait", "0.5"], capture_output=True, text=True, timeout=30, check=False
    )
    assert second.returncode == 3
    assert "in use by another simulator" in second.stderr


@pytest.mark.parametrize("thread", [False, True], ids=["opened-by-the-main-thread", "opened-by-a-worker-thread"])
def test_the_simulator_dies_with_the_kiosk_process_that_started_it(tmp_path: Path, thread: bool) -> None:
    kiosk = textwrap.dedent(
        f"""
        import threading, time
        from drivers.payment import open_terminal
        opened = []
        def start():
            opened.append(open_terminal("sim://terminal?ledger={tmp_path / "ledger.jsonl"}&think=0.05"))
        if {thread}:
            worker = threading.Thread(target=start); worker.start(); worker.join()  # the thread ends here
        else:
            start()
        print(opened[0].link.port.ser.port, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", kiosk], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("/dev/pts/")
        children = simulator_pids(proc.pid)
        assert len(children) == 1
        time.sleep(0.5)
        assert alive(children[0]), "the simulator must outlive the thread that started it"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while alive(children[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(children[0]), "orphan simulator left running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def simulator_pids(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"drivers.payment.simulator" in cmdline:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_wrong_currency_is_refused_with_6f(start_simulator: StartSim) -> None:
    sim = start_simulator("--currency", "978")
    with connect(sim) as terminal:
        with pytest.raises(TerminalRefusedError) as refused:
            terminal.register()
        auth = terminal.authorise(Decimal("10.00"))
    assert refused.value.result_code == 0x6F
    assert (auth.approved, auth.result_code, auth.fate) == (False, 0x6F, Fate.DECLINED)
    assert sim.entries() == []  # nothing happened to any money


def test_a_command_sent_while_the_terminal_is_master_is_answered_busy(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        link = terminal.link
        link.send(m.registration("000000", tlv=m.registration_tlv()))
        until(link, m.COMPLETION)
        link.send(m.POSITIVE)
        link.send(m.authorisation(1000, timeout=10))
        until(link, m.STATUS_INFO)  # the terminal now waits for our goods decision
        link.send(m.status_enquiry("000000"))
        assert link.receive(5.0) == m.negative(0xA0)  # receiver not ready: not swallowed
        link.send(m.negative(0x66))  # refuse the goods
        until(link, m.ABORT_PT)
        link.send(m.POSITIVE)
    assert sim.entries()[-1].event == "reversed"


def test_repeat_receipt_sends_the_status_information_only_when_the_service_byte_asks(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        terminal.confirm_goods(terminal.authorise(Decimal("12.00")))
        link = terminal.link
        link.send(m.repeat_receipt("000000", service_byte=None))
        plain = until(link, m.COMPLETION)
        link.send(m.POSITIVE)
        link.send(m.repeat_receipt("000000", service_byte=0x03))  # status info, no receipt
        asked = until(link, m.COMPLETION)
        link.send(m.POSITIVE)
    controls = [[decode_apdu(a).control for a in seen if not m.is_response(a)] for seen in (plain, asked)]
    assert m.STATUS_INFO not in controls[0] and m.PRINT_BLOCK in controls[0]
    assert m.STATUS_INFO in controls[1] and m.PRINT_BLOCK not in controls[1] and m.PRINT_LINE not in controls[1]


def test_the_status_enquiry_leaves_out_the_software_version_when_asked(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        link = terminal.link
        link.send(m.status_enquiry("000000", service_byte=0x02))
        done = until(link, m.COMPLETION)[-1]
        link.send(m.POSITIVE)
    assert m.decode_enquiry_completion(decode_apdu(done).data).software_version is None


def test_a_payment_is_stored_only_after_every_receipt_line_was_answered(start_simulator: StartSim) -> None:
    sim = start_simulator()
    terminal = connect(sim)
    link = terminal.link
    link.send(m.registration("000000", tlv=m.registration_tlv()))
    until(link, m.COMPLETION)
    link.send(m.POSITIVE)
    link.send(m.authorisation(2500, timeout=10))
    until(link, m.STATUS_INFO)
    link.send(m.POSITIVE)  # goods issued...
    assert decode_apdu(until(link, m.PRINT_BLOCK)[-1]).control == m.PRINT_BLOCK
    terminal.close()  # ...and the kiosk dies before it answers the receipt
    entries = sim.wait_for(lambda es: es[-1].event == "reversed", timeout=10)
    assert [e.event for e in entries] == ["authorised", "reversed"]
    assert entries[-1].reason == "receipt_not_acknowledged"


def test_receipts_come_as_text_blocks_only_if_the_ecr_listed_06_d3(start_simulator: StartSim) -> None:
    sim = start_simulator()
    with connect(sim) as terminal:
        link = terminal.link
        link.send(m.registration("000000"))  # no TLV 26: the terminal falls back to line by line
        until(link, m.COMPLETION)
        link.send(m.POSITIVE)
        link.send(m.authorisation(300, timeout=10))
        until(link, m.STATUS_INFO)
        link.send(m.POSITIVE)
        seen = until(link, m.COMPLETION)
        link.send(m.POSITIVE)
    controls = {decode_apdu(a).control for a in seen}
    assert m.PRINT_LINE in controls and m.PRINT_BLOCK not in controls
    assert sim.entries()[-1].event == "committed"
