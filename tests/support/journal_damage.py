"""Ways a journal file gets damaged, for the fault tests (always on a file under the test's own directory).

``damage(path, how)``: ``truncate`` (to zero bytes), ``random`` (overwritten with random bytes of the same
size), ``half`` (the second half cut off), ``header`` (the 100-byte SQLite header garbled), ``delete``.
WAL files are left as the crash left them: a real disk loses or garbles the main file without tidying.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

__all__ = ["DAMAGES", "damage"]

DAMAGES = ("truncate", "random", "half", "header", "delete")


def damage(path: Path, how: str, *, seed: int = 12) -> None:
    """Damage ``path`` the way ``how`` says (see the module docstring)."""
    rng = random.Random(seed)
    if how == "delete":
        path.unlink()
        return
    data = path.read_bytes()
    if how == "truncate":
        data = b""
    elif how == "random":
        data = rng.randbytes(max(len(data), 4096))
    elif how == "half":
        data = data[: len(data) // 2]
    elif how == "header":
        data = rng.randbytes(100) + data[100:]
    else:
        raise ValueError(f"unknown damage {how!r}; one of {', '.join(DAMAGES)}")
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
