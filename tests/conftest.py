"""Shared test fixtures: repository paths, the artifacts directory, the --device-url option, and the one
pcscd of the session (the card-reader integration tests and the technician's e2e test share it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device-url",
        default=None,
        help="run a device contract suite against real hardware at this URL (e.g. zvt:///dev/ttyUSB0)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``) every ``serial_only`` test goes to the same worker: there
    is one pcscd per machine."""
    for item in items:
        if item.get_closest_marker("serial_only") is not None:
            item.add_marker(pytest.mark.xdist_group("serial_only"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout."""
    return REPO


@pytest.fixture(scope="session")
def config_dir() -> Path:
    """The shipped configuration directory (default config, tariff tables, base rates)."""
    return REPO / "config"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep what a person should look at (screenshots, printer renders); not committed."""
    path = Path(os.environ.get("OSAGO_ARTIFACTS", REPO / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def device_url(request: pytest.FixtureRequest) -> str | None:
    """The --device-url given on the command line, if any."""
    value: str | None = request.config.getoption("--device-url")
    return value


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Our own pcscd with vsmartcard's vpcd reader (stopped afterwards), or the machine's; skips when
    PC/SC cannot run here. One per session: only one pcscd can run per machine (tests are ``serial_only``)."""
    pytest.importorskip("smartcard.scard", reason="pyscard is not installed")
    from tests.support.pcscd import PcscdService, PcscdUnavailableError

    try:
        service = PcscdService(tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    except PcscdUnavailableError as exc:
        pytest.skip(str(exc))
    try:
        yield service
    finally:
        service.stop()
