"""Tariff bundles from the central server, kept in the data directory and swapped in atomically.

Layout under ``<data dir>/tariffs/``::

    bundles/<checksum>/tables/*.toml     one directory per bundle, written completely before use
    bundles/<checksum>/<base rates>.toml
    bundles/<checksum>/bundle.json       version, checksum, base-rate file name, installed_at
    current -> bundles/<checksum>        a symlink replaced with rename(2): readers see old or new, never half

A bundle is installed only after its checksum matched and its tables parsed (``TariffBundle.from_json``).
The kiosk loads ``current`` if it is there and valid, else the tables shipped in ``config/``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kiosk.tariffs.bundle import TariffBundle

__all__ = ["InstalledBundle", "install_bundle", "installed_bundle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstalledBundle:
    """Where the current bundle's files are."""

    directory: Path
    tables: Path
    base_rates: Path
    version: str
    checksum: str


def _root(data_dir: Path) -> Path:
    return data_dir / "tariffs"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, content: bytes) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


def installed_bundle(data_dir: Path) -> InstalledBundle | None:
    """The bundle ``current`` points at, if any (its files are not re-validated here)."""
    current = _root(data_dir) / "current"
    try:
        meta = json.loads((current / "bundle.json").read_text(encoding="utf-8"))
        directory = current.resolve(strict=True)
        return InstalledBundle(
            directory,
            directory / "tables",
            directory / str(meta["base_rates"]),
            str(meta["version"]),
            str(meta["checksum"]),
        )
    except (OSError, ValueError, KeyError) as exc:
        if current.is_symlink() or current.exists():
            log.warning("installed tariff bundle unreadable, using the shipped tables: %s", exc)
        return None


def install_bundle(data_dir: Path, bundle: TariffBundle) -> InstalledBundle:
    """Write a validated bundle and make it current (atomic; older bundles but the previous one are removed)."""
    root = _root(data_dir)
    bundles = root / "bundles"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    bundles.mkdir(mode=0o700, exist_ok=True)
    checksum = bundle.checksum
    final = bundles / checksum
    if not final.exists():
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=bundles))
        (staging / "tables").mkdir(mode=0o700)
        for name, content in bundle.tables.items():
            _write(staging / "tables" / name, content)
        _write(staging / bundle.base_rates_name, bundle.base_rates)
        meta = {
            "version": bundle.version,
            "checksum": checksum,
            "base_rates": bundle.base_rates_name,
            "installed_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        _write(staging / "bundle.json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        _fsync_dir(staging / "tables")
        _fsync_dir(staging)
        staging.chmod(0o700)  # mkdtemp's mode, stated: the kiosk's files are the owner's only
        os.rename(staging, final)
        _fsync_dir(bundles)
    previous = installed_bundle(data_dir)
    link = root / f".current-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("bundles") / checksum)
    os.replace(link, root / "current")
    _fsync_dir(root)
    keep = {checksum, previous.checksum if previous else ""}
    for old in bundles.iterdir():
        if old.name not in keep and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    installed = installed_bundle(data_dir)
    assert installed is not None
    return installed
