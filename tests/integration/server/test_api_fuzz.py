"""schemathesis against the published OpenAPI of the real server: every kiosk operation, every request
correctly signed (so the generated data reaches the handlers), and not one 5xx answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from kiosk.insurer.http import KioskAuth
from kiosk.signing import read_key_file
from tests.integration.server.conftest import provision
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    root = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{root / 'server.db'}"
    server = ServerProcess(root / "server", url).start()
    provision(url, "KIOSK-FUZZ", root / "kiosk.key", server.keyring())
    try:
        yield server, root / "kiosk.key"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: tuple[ServerProcess, Path]) -> Any:
    server, _ = fuzz_server
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


@pytest.fixture(scope="module")
def signed_session(fuzz_server: tuple[ServerProcess, Path]) -> Iterator[requests.Session]:
    _, key_file = fuzz_server
    session = requests.Session()
    session.auth = KioskAuth("KIOSK-FUZZ", read_key_file(key_file))
    yield session
    session.close()


def test_no_input_makes_the_server_fail(api_schema: Any, signed_session: requests.Session) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]
    seen: dict[str, set[int]] = {}

    def checker(operation: Any) -> Any:
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(session=signed_session, timeout=20)
            case.validate_response(response, checks=[not_a_server_error])
            # Signed correctly, so a refusal is about the data, never about the signature.
            assert response.status_code != 401, response.text
            seen.setdefault(label, set()).add(response.status_code)

        return check

    for operation in operations:
        checker(operation)()

    # The generated data got past validation at least somewhere (not only 422s).
    assert any(codes & {200, 304, 404, 409} for codes in seen.values()), seen
