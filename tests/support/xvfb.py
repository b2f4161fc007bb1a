"""A private Xvfb on a free display for tests that show a real window (Kivy under X11)."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["start_xvfb"]


def start_xvfb(size: str = "1280x800x24") -> tuple[subprocess.Popen[bytes], str] | None:
    """Start Xvfb on a display it picks itself (``-displayfd``); None when Xvfb is not installed.

    The caller stops it (``terminate`` then ``wait``).
    """
    if shutil.which("Xvfb") is None:
        return None
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    try:
        while not number.endswith(b"\n"):
            chunk = os.read(read, 16)
            if not chunk:
                proc.kill()
                proc.wait()
                raise RuntimeError("Xvfb did not start")
            number += chunk
    finally:
        os.close(read)
    return proc, ":" + number.decode().strip()
