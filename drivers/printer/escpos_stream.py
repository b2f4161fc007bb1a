"""An ESC/POS byte stream cut into tokens: text runs, control bytes and commands (for the simulator).

Written from the Epson ESC/POS command reference, independently of python-escpos, so the simulator
checks the formatter's bytes rather than echoing them. Incremental: feed chunks as they arrive; a
command split across chunks is kept until it is complete. Commands it does not know are reported
as ``unknown`` with the two bytes that name them (as a real printer would skip or misprint them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
EOT, ENQ, DC4 = 0x04, 0x05, 0x14


@dataclass(frozen=True, slots=True)
class TextRun:
    """Printable bytes (0x20 and up) in the current code page."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Control:
    """A single control byte: LF, CR, HT, FF..."""

    byte: int


@dataclass(frozen=True, slots=True)
class Command:
    """An ESC/GS/FS/DLE command. ``name`` is like ``"ESC t"``; ``raw`` is every byte of it."""

    name: str
    raw: bytes
    known: bool = True

    @property
    def realtime(self) -> bool:
        """DLE EOT/ENQ/DC4 are executed on receipt, even while the printer is stopped."""
        return self.name.startswith("DLE ")

    @property
    def arg(self) -> int:
        """The first byte after the two that name the command (``n`` of ``ESC t n``), or -1."""
        return self.raw[2] if len(self.raw) > 2 else -1

    @property
    def payload(self) -> bytes:
        """For ``GS ( k``/``GS ( L``: the bytes after pL pH (cn fn m data...)."""
        return self.raw[5:]


Token = TextRun | Control | Command
Sizer = Callable[[bytes], int | None]  # full command length, or None while incomplete


def _fixed(n: int) -> Sizer:
    return lambda buf: n if len(buf) >= n else None


def _nul_terminated(start: int) -> Sizer:
    def size(buf: bytes) -> int | None:
        end = buf.find(b"\x00", start)
        return None if end < 0 else end + 1

    return size


def _gs_paren(buf: bytes) -> int | None:  # GS ( X pL pH data
    return None if len(buf) < 5 else 5 + buf[3] + 256 * buf[4]


def _gs_k(buf: bytes) -> int | None:  # GS k m ... (m 0-6: NUL-terminated; 65-79: n, then n bytes)
    if len(buf) < 3:
        return None
    if buf[2] <= 6:
        return _nul_terminated(3)(buf)
    return None if len(buf) < 4 else 4 + buf[3]


def _gs_v(buf: bytes) -> int | None:  # GS v 0 m xL xH yL yH d1...dk, k = x * y
    if len(buf) < 8:
        return None
    return 8 + (buf[4] + 256 * buf[5]) * (buf[6] + 256 * buf[7])


def _gs_8(buf: bytes) -> int | None:  # GS 8 L p1 p2 p3 p4 data
    if len(buf) < 7:
        return None
    return 7 + int.from_bytes(buf[3:7], "little")


def _esc_star(buf: bytes) -> int | None:  # ESC * m nL nH d1...dk
    if len(buf) < 5:
        return None
    columns = buf[3] + 256 * buf[4]
    return 5 + columns * (3 if buf[2] in (32, 33) else 1)


def _gs_v_cut(buf: bytes) -> int | None:  # GS V m [n]: m 65/66 take a feed amount
    if len(buf) < 3:
        return None
    return 4 if buf[2] in (65, 66, 97, 98, 103, 104) else 3


def _gs_e(buf: bytes) -> int | None:  # Custom presenter GS e n [m]: n = 3 (present m steps) takes m
    if len(buf) < 3:
        return None
    return 4 if buf[2] == 3 else 3


def _dle_eot(buf: bytes) -> int | None:  # DLE EOT n; n = 7, 8 take one more byte
    if len(buf) < 3:
        return None
    return 4 if buf[2] in (7, 8) else 3


def _dle_dc4(buf: bytes) -> int | None:  # DLE DC4 fn ...: fn 8 (clear buffers) is 12 bytes long
    if len(buf) < 3:
        return None
    return 12 if buf[2] == 8 else 5


def _esc_d_string(buf: bytes) -> int | None:  # ESC D n1...nk NUL (tab positions)
    return _nul_terminated(2)(buf)


COMMANDS: dict[tuple[int, int], tuple[str, Sizer]] = {
    (ESC, ord("@")): ("ESC @", _fixed(2)),
    (ESC, ord("t")): ("ESC t", _fixed(3)),
    (ESC, ord("!")): ("ESC !", _fixed(3)),
    (ESC, ord("E")): ("ESC E", _fixed(3)),
    (ESC, ord("G")): ("ESC G", _fixed(3)),
    (ESC, ord("M")): ("ESC M", _fixed(3)),
    (ESC, ord("a")): ("ESC a", _fixed(3)),
    (ESC, ord("-")): ("ESC -", _fixed(3)),
    (ESC, ord("d")): ("ESC d", _fixed(3)),
    (ESC, ord("e")): ("ESC e", _fixed(3)),
    (ESC, ord("J")): ("ESC J", _fixed(3)),
    (ESC, ord("2")): ("ESC 2", _fixed(2)),
    (ESC, ord("3")): ("ESC 3", _fixed(3)),
    (ESC, ord("=")): ("ESC =", _fixed(3)),
    (ESC, ord("{")): ("ESC {", _fixed(3)),
    (ESC, ord("V")): ("ESC V", _fixed(3)),
    (ESC, ord("R")): ("ESC R", _fixed(3)),
    (ESC, ord(" ")): ("ESC SP", _fixed(3)),
    (ESC, ord("$")): ("ESC $", _fixed(4)),
    (ESC, ord("\\")): ("ESC \\", _fixed(4)),
    (ESC, ord("p")): ("ESC p", _fixed(5)),
    (ESC, ord("i")): ("ESC i", _fixed(2)),
    (ESC, ord("m")): ("ESC m", _fixed(2)),
    (ESC, ord("D")): ("ESC D", _esc_d_string),
    (ESC, ord("*")): ("ESC *", _esc_star),
    (GS, ord("!")): ("GS !", _fixed(3)),
    (GS, ord("B")): ("GS B", _fixed(3)),
    (GS, ord("H")): ("GS H", _fixed(3)),
    (GS, ord("I")): ("GS I", _fixed(3)),
    (GS, ord("L")): ("GS L", _fixed(4)),
    (GS, ord("W")): ("GS W", _fixed(4)),
    (GS, ord("a")): ("GS a", _fixed(3)),
    (GS, ord("b")): ("GS b", _fixed(3)),
    (GS, ord("f")): ("GS f", _fixed(3)),
    (GS, ord("h")): ("GS h", _fixed(3)),
    (GS, ord("w")): ("GS w", _fixed(3)),
    (GS, ord("r")): ("GS r", _fixed(3)),
    (GS, ord("k")): ("GS k", _gs_k),
    (GS, ord("V")): ("GS V", _gs_v_cut),
    (GS, ord("v")): ("GS v", _gs_v),
    (GS, ord("(")): ("GS (", _gs_paren),
    (GS, ord("8")): ("GS 8", _gs_8),
    (GS, ord("e")): ("GS e", _gs_e),
    (FS, ord(".")): ("FS .", _fixed(2)),
    (FS, ord("&")): ("FS &", _fixed(2)),
    (FS, ord("C")): ("FS C", _fixed(3)),
    (DLE, EOT): ("DLE EOT", _dle_eot),
    (DLE, ENQ): ("DLE ENQ", _fixed(3)),
    (DLE, DC4): ("DLE DC4", _dle_dc4),
}


class Tokenizer:
    """Incremental tokenizer: ``feed(chunk)`` yields every token completed by the chunk."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete command kept for the next chunk."""
        return len(self._buf)

    def feed(self, data: bytes) -> Iterator[Token]:
        """Add bytes; yield the complete tokens."""
        self._buf += data
        while self._buf:
            token, size = self._next()
            if token is None:
                return
            del self._buf[:size]
            yield token

    def _next(self) -> tuple[Token | None, int]:
        buf = bytes(self._buf)
        first = buf[0]
        if first >= 0x20:
            end = next((i for i, b in enumerate(buf) if b < 0x20), len(buf))
            return TextRun(buf[:end]), end
        if first not in (ESC, GS, FS, DLE):
            return Control(first), 1
        if len(buf) < 2:
            return None, 0
        entry = COMMANDS.get((first, buf[1]))
        if entry is None:
            prefix = {ESC: "ESC", GS: "GS", FS: "FS", DLE: "DLE"}[first]
            return Command(f"{prefix} 0x{buf[1]:02x}", buf[:2], known=False), 2
        name, sizer = entry
        size = sizer(buf)
        if size is None or size > len(buf):  # the command's data has not all arrived yet
            return None, 0
        if name == "GS (":  # name the function: GS ( k (2-D codes), GS ( L (graphics)...
            name = f"GS ( {chr(buf[2])}"
        return Command(name, buf[:size]), size
