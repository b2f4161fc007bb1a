"""Where the kiosk logs: stderr (journald under systemd) and a small rotating file in the data dir.

The file lets the technician's screen show the last lines without journald access. Nothing personal is
logged anywhere: sale ids, states, device results and masked card numbers only.
"""

from __future__ import annotations

import collections
import io
import logging
import logging.handlers
import os
from pathlib import Path

__all__ = ["LOG_FORMAT", "attach_file_log", "file_logs", "log_file", "log_to_files", "tail"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_file(data_dir: Path, name: str = "kiosk.log") -> Path:
    """The kiosk's (or, with ``name``, the server's) log file under its data directory."""
    return data_dir / "logs" / name


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file (the first and each after a rollover) is created 0600.

    The log holds sale ids and device results: the owner only, whatever umask the process got.
    """

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def attach_file_log(data_dir: Path, level: int = logging.INFO, name: str = "kiosk.log") -> Path | None:
    """Add a rotating file handler to the root logger (once per file); returns the file.

    None when the data directory cannot take it (read-only, full, missing): the kiosk still logs to
    stderr (journald), and the journal guard explains the refusal there.
    """
    path = log_file(data_dir, name)
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = _PrivateRotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file in %s: %s", path.parent, exc.strerror or exc)
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    if root.level > level or root.level == logging.NOTSET:
        # The console keeps the level it had (only the file gets the extra detail), except for loggers
        # given a level of their own on purpose (``osago-kiosk run`` shows its "ready" line).
        if root.level != logging.NOTSET:
            for existing in root.handlers:
                existing.addFilter(_ConsoleLevel(root.level))
        root.setLevel(level)
    root.addHandler(handler)
    return path


def file_logs() -> list[Path]:
    """The log files ``attach_file_log`` gave the root logger (the data directory's, once attached)."""
    return [Path(h.baseFilename) for h in _file_handlers()]


def _file_handlers() -> list[logging.handlers.RotatingFileHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, logging.handlers.RotatingFileHandler)]


def log_to_files(logger: str, message: str, exc: BaseException) -> list[Path]:
    """Write ``message`` with the exception's traceback to the root logger's files only, not the console.

    The technician's screen and the log keep the whole story; stderr keeps its one clear line.
    """
    record = logging.getLogger(logger).makeRecord(
        logger, logging.CRITICAL, __file__, 0, message, (), (type(exc), exc, exc.__traceback__)
    )
    written = []
    for handler in _file_handlers():
        handler.handle(record)
        written.append(Path(handler.baseFilename))
    return written


class _ConsoleLevel(logging.Filter):
    """Drops records below ``level`` unless their logger (or a parent below the root) has its own level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.level:
            return True
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger is not logging.getLogger():
            if logger.level != logging.NOTSET:
                return True
            logger = logger.parent
        return False


def tail(path: Path, lines: int = 200) -> list[str]:
    """The last ``lines`` lines of a log file (none when it does not exist)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as text:
        return [line.rstrip("\n") for line in collections.deque(text, maxlen=lines)]
