"""A hostile HTTP client on a raw socket (huge streamed bodies, chunked or declared), and a process's RSS.

``requests`` cannot be used for this: it wants the whole body, and it gives up on the answer when the
server closes while it is still sending. Here a reader thread collects the answer while the writer
streams, so a 413 or 401 sent early is read even though the server then resets the connection.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RssSampler", "StreamResult", "rss_kib", "stream_post"]

_CHUNK = b"x" * (1 << 20)


@dataclass(frozen=True)
class StreamResult:
    """What one hostile post achieved."""

    status: int | None
    head: bytes
    body: bytes
    sent: int


def stream_post(
    port: int,
    path: str,
    *,
    total: int,
    headers: dict[str, str] | None = None,
    chunked: bool = True,
    timeout: float = 60,
) -> StreamResult:
    """POST ``total`` bytes to 127.0.0.1:``port`` (chunked, or with Content-Length), as fast as the server takes them."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    answer = bytearray()

    def read() -> None:
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                answer.extend(data)
        except OSError:
            return

    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    reader = threading.Thread(target=read, daemon=True)
    sent = 0
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        reader.start()
        while sent < total and not answer:
            piece = _CHUNK[: min(len(_CHUNK), total - sent)]
            frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            sock.sendall(frame)
            sent += len(piece)
        if chunked and sent >= total:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed on us: what it answered is in ``answer``
    finally:
        if reader.is_alive():
            reader.join(timeout)
        sock.close()
    status = None
    text = bytes(answer)
    if text.startswith(b"HTTP/1.1 "):
        status = int(text[9:12])
    head, _, body = text.partition(b"\r\n\r\n")
    return StreamResult(status, head, body, sent)


def rss_kib(pid: int) -> int:
    """The resident set size of a process, KiB (``VmRSS`` in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class RssSampler:
    """Samples a process's RSS every few milliseconds while a block runs; ``peak`` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid = pid
        self.every = every
        self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_kib(self.pid))
