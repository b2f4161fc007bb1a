"""The pure domain modules import only the standard library and each other.

import-linter (run by scripts/test) enforces the package layering; this test adds what it cannot
express: "only the standard library" for kiosk.tariffs and kiosk.validation.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
PURE = sorted([KIOSK / "validation.py", KIOSK / "money.py", *(KIOSK / "tariffs").glob("*.py")])
ALLOWED_PROJECT = ("kiosk.tariffs", "kiosk.validation", "kiosk.money")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.relative_to(KIOSK.parent).as_posix())
def test_pure_domain_module_imports_only_the_standard_library(path: Path) -> None:
    foreign = {
        name
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name != "__future__"
        and not name.startswith(ALLOWED_PROJECT)
    }

    assert not foreign, f"{path.name} imports {sorted(foreign)}"
