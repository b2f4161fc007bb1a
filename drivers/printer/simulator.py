"""The printer simulator: an ESC/POS printer on a loopback TCP port, with faults and a job journal.

It parses the byte stream (``escpos_stream``), prints into text, answers DLE EOT 1-4 (and Custom's
DLE EOT 20 when the profile has it) at once and GS r 1 in buffer order, holds print data while a
blocking fault is active and prints it when the fault clears (as a real buffered printer does, for
the next customer), and appends every finished job to a JSON-lines journal *before* answering the
status query that follows it, so a crash test can reconcile what was really printed.

Faults are set with ``PrinterSimulator.set_fault`` or, from another process, over the control port
(one line per command, one JSON line back)::

    fault set paper-out | fault clear paper-out | paper 12 | paper none | state

``sim://printer`` URLs start one in a thread (``open_url``); ``osago-kiosk simulate printer`` runs
one standalone.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers.printer import PrinterURL
from drivers.printer.errors import PrinterError, PrinterURLError
from drivers.printer.escpos_backend import EscposPrinter, tcp_connector
from drivers.printer.escpos_stream import Command, Control, TextRun, Token, Tokenizer
from drivers.printer.profiles import PrinterProfile

log = logging.getLogger(__name__)

FAULTS = (
    "near-end",  # paper near end: a warning
    "paper-out",
    "cover-open",
    "offline",
    "cutter-error",
    "ticket-not-taken",  # Custom presenter: the last ticket is still in the mouth (DLE EOT 20 only)
    "no-reply",  # status queries are ignored
    "garbage-reply",  # status queries get 0xFF
)
BLOCKING_FAULTS = frozenset({"paper-out", "cover-open", "offline", "cutter-error"})
CODECS = {"CP866": "cp866", "CP1251": "cp1251", "CP437": "cp437"}
QR_PAPER_LINES = 8  # paper a QR code uses, in text lines (for the paper-lines counter)


@dataclass
class _Job:
    lines: list[str] = field(default_factory=list)
    current: str = ""
    qr: list[str] = field(default_factory=list)
    barcodes: list[str] = field(default_factory=list)
    images: int = 0
    raw: bytearray = field(default_factory=bytearray)
    code_pages: list[int] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    cut: bool = False
    presented: bool = False
    paper_out_during_job: bool = False

    @property
    def has_content(self) -> bool:
        return bool(self.lines or self.current or self.qr or self.barcodes or self.images)


@dataclass
class _Connection:
    id: int
    sock: socket.socket | None
    tokenizer: Tokenizer = field(default_factory=Tokenizer)
    held: list[Token] = field(default_factory=list)
    code_page: int = 0
    print_mode: int = 0  # ESC ! n: bit 0 font B, bit 5 double width
    qr_store: bytes = b""
    job: _Job = field(default_factory=_Job)
    closed: bool = False


class JobJournal:
    """Append-only JSON lines, one finished job a line, fsynced (it must survive a kiosk crash).

    The file is the record. In memory only the latest ``KEEP`` jobs stay, so a simulator serving a
    kiosk for days (``sim://printer`` runs inside the kiosk process) does not grow without bound.
    """

    KEEP = 200

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=self.KEEP)
        self.count = 0
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def append(self, record: dict[str, Any]) -> None:
        self.count += 1
        self.records.append(record)
        if self.path is None:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        with open(fd, "a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """Every record of a journal file (a torn last line from a crash is skipped)."""
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
        return records


class PrinterModel:
    """One simulated printer shared by its connections. Not thread-safe: the simulator locks it."""

    def __init__(self, profile: PrinterProfile, journal: JobJournal, paper_lines: int | None = None) -> None:
        self.profile = profile
        self.journal = journal
        self.faults: set[str] = set()
        self.paper_lines = paper_lines
        self.connections: dict[int, _Connection] = {}
        self._codecs = {0: "cp437", profile.code_page_number: CODECS[profile.code_page]}

    # --- state and status ----------------------------------------------------------------------

    @property
    def blocked(self) -> bool:
        return bool(self.faults & BLOCKING_FAULTS)

    def dle_eot(self, n: int) -> bytes:
        """The reply to DLE EOT n from the current state (b"" = no reply)."""
        if "no-reply" in self.faults:
            return b""
        if "garbage-reply" in self.faults:
            return b"\xff"
        f = self.faults
        match n:
            case 1:
                return bytes([0x12 | (0x08 if self.blocked else 0)])
            case 2:
                cover, out, error = "cover-open" in f, "paper-out" in f, "cutter-error" in f
                return bytes([0x12 | (0x04 if cover else 0) | (0x20 if out else 0) | (0x40 if error else 0)])
            case 3:
                return bytes([0x12 | (0x08 if "cutter-error" in f else 0)])
            case 4:
                near = "near-end" in f or "paper-out" in f
                return bytes([0x12 | (0x0C if near else 0) | (0x60 if "paper-out" in f else 0)])
            case 20 if self.profile.extended_status == "custom":
                paper = (0x01 if "paper-out" in f else 0) | (0x04 if "near-end" in f else 0)
                paper |= 0x20 if "ticket-not-taken" in f else 0
                user = 0x03 if "cover-open" in f else 0
                return bytes([0x10, 0x0F, paper, user, 0, 0x01 if "cutter-error" in f else 0])
        return b""

    def gs_r(self, n: int) -> bytes:
        """GS r 1: paper sensor (bits 0-1 near end, 2-3 paper out); answered in buffer order."""
        if n not in (1, 49):
            return b"\x00"
        near = "near-end" in self.faults or "paper-out" in self.faults
        return bytes([(0x03 if near else 0) | (0x0C if "paper-out" in self.faults else 0)])

    def state(self) -> dict[str, Any]:
        return {
            "faults": sorted(self.faults),
            "paper_lines": self.paper_lines,
            "jobs": self.journal.count,
            "profile": self.profile.name,
        }

    # --- connections -----------------------------------------------------------------------------

    def open_connection(self, cid: int, sock: socket.socket | None) -> None:
        self.connections[cid] = _Connection(cid, sock)

    def close_connection(self, cid: int) -> None:
        conn = self.connections[cid]
        conn.closed, conn.sock = True, None
        if not conn.held:
            self._finish_job(conn, "connection-closed")
            del self.connections[cid]

    def receive(self, cid: int, data: bytes) -> None:
        conn = self.connections[cid]
        for token in conn.tokenizer.feed(data):
            if isinstance(token, Command) and token.realtime:
                self._realtime(conn, token)
            elif self.blocked or conn.held:
                conn.held.append(token)
            else:
                self._process(conn, token)

    def set_fault(self, name: str, active: bool) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        if active:
            self.faults.add(name)
            return
        self.faults.discard(name)
        self._release_held()

    def set_paper(self, lines: int | None) -> None:
        """Paper left, in lines (None = endless); 0 or less means paper out now."""
        self.paper_lines = lines
        if lines is not None and lines <= 0:
            self.faults.add("paper-out")

    # --- processing --------------------------------------------------------------------------------

    def _release_held(self) -> None:
        for conn in list(self.connections.values()):
            while conn.held and not self.blocked:
                self._process(conn, conn.held.pop(0))
            if conn.closed and not conn.held:
                self._finish_job(conn, "connection-closed")
                del self.connections[conn.id]

    def _realtime(self, conn: _Connection, cmd: Command) -> None:
        if cmd.name == "DLE EOT":
            self._reply(conn, self.dle_eot(cmd.arg))
        # DLE ENQ / DLE DC4 (recover, pulse, clear buffer) are accepted and ignored: not verified
        # on real printers (escpos reference report, 4.2), so the simulator does not pretend.

    def _process(self, conn: _Connection, token: Token) -> None:
        job = conn.job
        if job.cut and not (isinstance(token, Command) and token.name == "GS e"):
            self._finish_job(conn, "cut")
            job = conn.job
        match token:
            case TextRun(data=data):
                job.raw += data
                job.current += data.decode(self._codecs.get(conn.code_page, "cp437"), errors="replace")
            case Control(byte=byte):
                job.raw.append(byte)
                if byte in (0x0A, 0x0C):
                    self._end_line(conn)
            case Command():
                if token.name != "GS r":
                    job.raw += token.raw
                self._command(conn, token)

    def _command(self, conn: _Connection, cmd: Command) -> None:  # noqa: PLR0912 - one case per command
        job = conn.job
        match cmd.name:
            case "ESC @":
                conn.code_page, conn.print_mode = 0, 0
            case "ESC !":
                conn.print_mode = cmd.arg
            case "ESC $":  # absolute position in dots: the text gets a space per character skipped
                column = int.from_bytes(cmd.raw[2:4], "little") // self._char_width(conn)
                job.current = job.current.ljust(column)
            case "ESC t":
                conn.code_page = cmd.arg
                job.code_pages.append(cmd.arg)
            case "ESC d":
                for _ in range(cmd.arg):
                    self._end_line(conn)
            case "GS V":
                if job.current:
                    self._end_line(conn)
                if "cutter-error" not in self.faults:
                    job.cut = True
            case "GS e":
                job.presented = job.presented or cmd.arg in (3, 5)
            case "GS r":  # the job before it was finished (and journalled) by _process
                self._reply(conn, self.gs_r(cmd.arg))
            case "GS ( k":
                self._two_d_code(conn, cmd)
            case "GS k":
                text = cmd.raw[4:] if cmd.raw[2] >= 65 else cmd.raw[3:-1]
                human = text.decode("ascii", errors="replace")
                for code_set in ("{A", "{B", "{C"):
                    human = human.replace(code_set, "")
                job.barcodes.append(human)
                self._add_line(conn, f"[BARCODE: {human}]", paper=3)
            case "GS v" | "ESC *" | "GS ( L" | "GS 8":
                job.images += 1
                self._add_line(conn, "[IMAGE]", paper=QR_PAPER_LINES)
            case _ if not cmd.known:
                job.unknown.append(cmd.name)

    def _char_width(self, conn: _Connection) -> int:
        columns = self.profile.columns_small if conn.print_mode & 0x01 else self.profile.columns
        return (self.profile.width_dots // columns) * (2 if conn.print_mode & 0x20 else 1)

    def _two_d_code(self, conn: _Connection, cmd: Command) -> None:
        payload = cmd.payload  # cn fn [m] data
        if len(payload) < 2 or payload[0] != 0x31:  # only QR (cn = '1')
            return
        if payload[1] == 0x50:  # fn 80: store
            conn.qr_store = payload[3:]
        elif payload[1] == 0x51:  # fn 81: print
            data = conn.qr_store.decode("utf-8", errors="replace")
            conn.job.qr.append(data)
            self._add_line(conn, f"[QR: {data}]", paper=QR_PAPER_LINES)

    def _add_line(self, conn: _Connection, text: str, paper: int = 1) -> None:
        if conn.job.current:
            self._end_line(conn)
        conn.job.lines.append(text)
        self._use_paper(conn, paper)

    def _end_line(self, conn: _Connection) -> None:
        conn.job.lines.append(conn.job.current.rstrip())
        conn.job.current = ""
        self._use_paper(conn, 1)

    def _use_paper(self, conn: _Connection, lines: int) -> None:
        if self.paper_lines is None:
            return
        self.paper_lines -= lines
        if self.paper_lines <= 0:
            self.paper_lines = 0
            self.faults.add("paper-out")
            conn.job.paper_out_during_job = True

    def _finish_job(self, conn: _Connection, reason: str) -> None:
        job = conn.job
        conn.job = _Job()
        if job.current:
            job.lines.append(job.current.rstrip())
        if not job.has_content:
            return
        while job.lines and not job.lines[-1]:
            job.lines.pop()
        self.journal.append(
            {
                "seq": self.journal.count + 1,
                "completed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "state": "cut" if job.cut else "not_cut",
                "ended_by": reason,
                "presented": job.presented,
                "text": "\n".join(job.lines),
                "qr": job.qr,
                "barcodes": job.barcodes,
                "images": job.images,
                "bytes": len(job.raw),
                "sha256": hashlib.sha256(job.raw).hexdigest(),
                "code_pages": sorted(set(job.code_pages)),
                "paper_out_during_job": job.paper_out_during_job,
                "unknown_commands": job.unknown,
                "profile": self.profile.name,
            }
        )

    def _reply(self, conn: _Connection, data: bytes) -> None:
        if data and conn.sock is not None and not conn.closed:
            with contextlib.suppress(OSError):
                conn.sock.sendall(data)


class PrinterSimulator:
    """The model behind loopback TCP listeners (printer port, optional control port), in a thread."""

    def __init__(
        self,
        profile: PrinterProfile,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int | None = None,
        jobs_path: Path | None = None,
        faults: Iterable[str] = (),
        paper_lines: int | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator listens on loopback only")
        self.profile = profile
        self.model = PrinterModel(profile, JobJournal(jobs_path), paper_lines)
        for fault in faults:
            self.model.set_fault(fault, True)
        self._host, self._port, self._control_port = host, port, control_port
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._control: socket.socket | None = None
        self._next_id = 0

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> PrinterSimulator:
        """Bind the ports and start serving; returns self."""
        self._listener = socket.create_server((self._host, self._port))
        if self._control_port is not None:
            self._control = socket.create_server((self._host, self._control_port))
        self._thread = threading.Thread(target=self._serve, name="printer-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every socket (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the printer port."""
        assert self._listener is not None, "start() the simulator first"
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def control_address(self) -> tuple[str, int] | None:
        """(host, port) of the control port, if one was asked for."""
        if self._control is None:
            return None
        host, port = self._control.getsockname()[:2]
        return str(host), int(port)

    # --- run-time API ------------------------------------------------------------------------------

    def set_fault(self, name: str, active: bool = True) -> None:
        """Inject or clear a fault (clearing the last blocking fault prints held data)."""
        with self._lock:
            self.model.set_fault(name, active)

    def set_paper(self, lines: int | None) -> None:
        """Paper left in lines (None = endless): the printer runs out during a job."""
        with self._lock:
            self.model.set_paper(lines)

    @property
    def faults(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self.model.faults))

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """The latest journal records (a copy; at most ``JobJournal.KEEP``)."""
        with self._lock:
            return list(self.model.journal.records)

    @property
    def job_count(self) -> int:
        """How many jobs finished since the simulator started."""
        with self._lock:
            return self.model.journal.count

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` jobs have finished (or the timeout); return the latest records."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.job_count >= count:
                return self.jobs
            time.sleep(0.01)
        return self.jobs

    def command(self, line: str) -> dict[str, Any]:
        """Run one control command (the same language as the control port)."""
        words = line.split()
        with self._lock:
            try:
                match words:
                    case ["fault", "set" | "clear" as action, name]:
                        self.model.set_fault(name, action == "set")
                    case ["paper", "none"]:
                        self.model.set_paper(None)
                    case ["paper", lines]:
                        self.model.set_paper(int(lines))
                    case ["state"]:
                        pass
                    case _:
                        raise ValueError(f"unknown command {line!r}")
            except ValueError as exc:
                return {"ok": False, "error": str(exc), **self.model.state()}
            return {"ok": True, **self.model.state()}

    # --- the loop ------------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._listener is not None
        selector = selectors.DefaultSelector()
        self._listener.setblocking(False)
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        if self._control is not None:
            self._control.setblocking(False)
            selector.register(self._control, selectors.EVENT_READ, "control-accept")
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    self._event(selector, key)
        finally:
            for key in list(selector.get_map().values()):
                with contextlib.suppress(OSError):
                    key.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _event(self, selector: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        sock: socket.socket = key.fileobj  # type: ignore[assignment]
        kind = key.data
        if kind in ("accept", "control-accept"):
            with contextlib.suppress(BlockingIOError):
                client, _ = sock.accept()
                client.setblocking(True)
                client.settimeout(2.0)
                if kind == "accept":
                    self._next_id += 1
                    with self._lock:
                        self.model.open_connection(self._next_id, client)
                    selector.register(client, selectors.EVENT_READ, ("printer", self._next_id))
                else:
                    selector.register(client, selectors.EVENT_READ, ("control", bytearray()))
            return
        role, state = kind
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if role == "printer":
            with self._lock:
                if data:
                    self.model.receive(state, data)
                else:
                    self.model.close_connection(state)
        elif data:
            state += data
            while b"\n" in state:
                line, _, rest = bytes(state).partition(b"\n")
                state[:] = rest
                reply = self.command(line.decode("utf-8", errors="replace"))
                with contextlib.suppress(OSError):
                    sock.sendall(json.dumps(reply).encode() + b"\n")
        if not data:
            selector.unregister(sock)
            sock.close()


def control(address: tuple[str, int], command: str, timeout: float = 2.0) -> dict[str, Any]:
    """Send one control command to a simulator in another process; return its JSON reply."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(command.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
    reply: dict[str, Any] = json.loads(buf)
    return reply


class SimulatedPrinter(EscposPrinter):
    """The real escpos TCP backend connected to a simulator this object started (``sim://printer``)."""

    def __init__(self, simulator: PrinterSimulator, *, io_timeout: float, job_timeout: float | None) -> None:
        self.simulator = simulator
        host, port = simulator.address
        connect = tcp_connector(host, port, io_timeout)
        super().__init__(
            connect, simulator.profile, description=f"sim://printer@{host}:{port}", job_timeout=job_timeout
        )

    def close(self) -> None:
        """Close the connection and stop the simulator."""
        super().close()
        self.simulator.stop()


def _faults(values: Sequence[str]) -> list[str]:
    faults = [f for value in values for f in value.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        raise PrinterURLError(f"unknown simulator fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
    return faults


def open_url(url: PrinterURL, **kw: Any) -> SimulatedPrinter:
    """``sim://printer?profile=&jobs=&fault=&port=&control_port=&paper_lines=`` (keywords override)."""
    profile: PrinterProfile = kw.pop("profile", None) or url.load_profile()
    jobs = kw.pop("jobs", None) or url.param("jobs")
    simulator = PrinterSimulator(
        profile,
        port=url.integer("port", 0) or 0,
        control_port=url.integer("control_port"),
        jobs_path=Path(jobs) if jobs else None,
        faults=_faults(url.params.get("fault", [])) + list(kw.pop("faults", ())),
        paper_lines=url.integer("paper_lines"),
    )
    io_timeout = float(kw.pop("timeout", url.number("timeout", 3.0)))
    job_timeout = kw.pop("job_timeout", None) or (url.number("job_timeout", 0) or None)
    if kw:
        raise TypeError(f"unexpected options for sim://: {', '.join(kw)}")
    try:
        simulator.start()
    except OSError as exc:
        raise PrinterError(f"cannot start the printer simulator: {exc}") from exc
    return SimulatedPrinter(simulator, io_timeout=io_timeout, job_timeout=job_timeout)
