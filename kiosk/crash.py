"""Exit codes shared by ``osago-kiosk`` and ``osago-server`` (the README's table), and the last guard
against a traceback.

Each command returns its own codes (0, 1, 2, 3 below); whatever still escapes a handler is turned here
into one Russian line on stderr and a code, with the traceback written to the program's log file (and
to stderr only with ``-vv``). Standard library plus ``kiosk.logs``, so the server's CLI uses it too.
"""

from __future__ import annotations

import errno
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Final

from kiosk.logs import log_to_files

__all__ = [
    "EXIT_CONFIG",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_IO",
    "EXIT_NO",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "os_error_ru",
    "report_unexpected",
]

EXIT_OK: Final = 0
#: the command worked and the answer is "no": declined, not ready, cannot sell, events remain
EXIT_NO: Final = 1
#: bad arguments or input (argparse uses 2 as well), a bad device URL, not configured
EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 2
#: a device or the central server could not be reached
EXIT_UNREACHABLE: Final = 3
#: sysexits EX_SOFTWARE: an error nobody foresaw (a bug); the traceback is in the log file
EXIT_INTERNAL: Final = 70
#: sysexits EX_IOERR: a file or directory could not be read or written (disk full, read-only, permissions)
EXIT_IO: Final = 74
#: 128 + SIGINT: stopped with Ctrl-C
EXIT_INTERRUPTED: Final = 130

_ERRNO_RU: Final = {
    errno.ENOENT: "нет такого файла или каталога",
    errno.EACCES: "нет прав доступа",
    errno.EPERM: "операция не разрешена",
    errno.ENOSPC: "нет места на диске",
    errno.EROFS: "файловая система только для чтения",
    errno.EISDIR: "это каталог",
    errno.ENOTDIR: "это не каталог",
    errno.EEXIST: "файл уже существует",
    errno.EIO: "ошибка ввода-вывода устройства",
    errno.EDQUOT: "превышена квота диска",
}


def os_error_ru(exc: OSError) -> str:
    """An OSError in Russian for a technician: what failed, on which file."""
    reason = _ERRNO_RU.get(exc.errno or -1) or exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def report_unexpected(
    exc: Exception,
    *,
    program: str,
    verbose: int,
    find_log: Callable[[], list[Path]] = list,
    config_error: type[Exception] | None = None,
    device_error: tuple[type[Exception], ...] = (),
) -> int:
    """One line on stderr for an exception no handler caught, the traceback to the log; the exit code.

    ``find_log`` attaches the program's log file if it can and returns the files written to. A
    ``config_error`` is a bad configuration (exit 2), a ``device_error`` a device that could not be
    reached (3), an ``OSError`` a file that could not be read or written (74), anything else an
    internal error (70).
    """
    if config_error is not None and isinstance(exc, config_error):
        code, line = EXIT_CONFIG, f"{program}: ошибка конфигурации: {exc}"
    elif device_error and isinstance(exc, device_error):
        code, line = EXIT_UNREACHABLE, f"{program}: устройство недоступно: {_first_line(exc)}"
    elif isinstance(exc, OSError) and exc.errno is not None:
        code, line = EXIT_IO, f"{program}: ошибка ввода-вывода: {os_error_ru(exc)}"
    else:
        code, line = EXIT_INTERNAL, f"{program}: внутренняя ошибка ({type(exc).__name__}: {_first_line(exc)})"
    files: list[Path] = []
    try:
        files = find_log()
        files = log_to_files(program, f"{line} [exit {code}]", exc) if files else []
    except Exception as log_failure:  # the guard must not raise while it reports
        logging.getLogger(program).debug("the crash could not be logged: %s", log_failure)
    if verbose >= 2:
        traceback.print_exception(exc, file=sys.stderr)
    where = f"; подробности в {files[0]}" if files else "; подробности: запустите с -vv"
    print(line + (where if code == EXIT_INTERNAL else ""), file=sys.stderr)
    return code


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "без описания"
