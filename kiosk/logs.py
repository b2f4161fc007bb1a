"""Where the kiosk logs: stderr (journald under systemd) and a small rotating file in the data dir.

The file lets the technician's screen show the last lines without journald access. Nothing personal is
logged anywhere: sale ids, states, device results and masked card numbers only.
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
from pathlib import Path

__all__ = ["LOG_FORMAT", "attach_file_log", "log_file", "tail"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_file(data_dir: Path) -> Path:
    """The kiosk's log file under its data directory."""
    return data_dir / "logs" / "kiosk.log"


def attach_file_log(data_dir: Path, level: int = logging.INFO) -> Path:
    """Add a rotating file handler to the root logger (once per file); returns the file."""
    path = log_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return path


def tail(path: Path, lines: int = 200) -> list[str]:
    """The last ``lines`` lines of a log file (none when it does not exist)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as text:
        return [line.rstrip("\n") for line in collections.deque(text, maxlen=lines)]
