"""A real pcscd with vsmartcard's vpcd reader, and our virtual service card on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pcscd import PcscdService, PcscdUnavailableError


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscdService]:
    """Our own pcscd (stopped afterwards), or the machine's; skips when PC/SC cannot run here."""
    pytest.importorskip("smartcard.scard", reason="pyscard is not installed")
    try:
        service = PcscdService(tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    except PcscdUnavailableError as exc:
        pytest.skip(str(exc))
    try:
        yield service
    finally:
        service.stop()
