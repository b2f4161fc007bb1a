"""``systemd-analyze verify`` for our unit files, strict: any output is a failure.

``systemd-analyze verify`` exits 0 on unknown keys and typos (it only warns), and 1 only for hard
errors such as a missing ``ExecStart`` binary. So the units are copied into a throw-away root next to
a copy of the system's units, each ``ExecStart`` binary gets an executable stub there, and the
verdict is "no output at all". Works without systemd as PID 1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["UnitLint", "lint_units"]

SYSTEM_UNITS = Path("/usr/lib/systemd/system")
_EXEC = re.compile(r"^Exec(?:Start|StartPre|StartPost|Stop|StopPost|Reload)=[-@:+!]*(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class UnitLint:
    """The outcome: ``ok`` only when systemd-analyze exits 0 and prints nothing."""

    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.output.strip()


def lint_units(units: list[Path], workdir: Path) -> UnitLint:
    """Verify ``units`` together in a root under ``workdir``."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise FileNotFoundError("systemd-analyze is not installed (Debian package systemd)")
    root = workdir / "root"
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True, dirs_exist_ok=True)
    target = root / "etc/systemd/system"
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        (target / unit.name).write_text(text, encoding="utf-8")
        names.append(str(target / unit.name))
        for binary in _EXEC.findall(text):
            stub = root / binary.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\nexit 0\n", encoding="ascii")
            stub.chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "--man=no", *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return UnitLint(result.returncode, result.stdout + result.stderr)
