"""The server's small defences on their own: rate-limit counters in SQL, the keyring, blind-index
normalisation, CSV cells, text that is not Unicode, body limits per route class."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from server.guard import BodyLimits
from server.keys import Keyring, KeyringError, UnknownKeyError, add_key, is_sealed
from server.models import RateLimit
from server.schemas import EventBatch, refuse_invalid_text
from server.search import normalise
from server.throttle import SqlStorage, Throttle
from server.web import csv_cell


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(tmp_path: Path, clock: Clock) -> Throttle:
    engine = create_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    RateLimit.__table__.create(engine)
    storage = SqlStorage(engine, clock=clock)
    # limits reads its own clock for window ends; the storage's clock decides when a window is over.
    return Throttle(storage, login_per_user="3/15 minutes", login_per_address="5/15 minutes",
                    check_per_address="2/minute", clock=clock)  # fmt: skip


def test_a_name_is_locked_after_its_failures_until_its_window_ends(throttle: Throttle, clock: Clock) -> None:
    for _ in range(3):
        assert throttle.login_locked("Anna", "10.0.0.1") is None
        throttle.login_failed("Anna", "10.0.0.1")

    assert throttle.login_locked("anna", "10.0.0.2") is not None  # names are counted case-blind
    assert throttle.login_locked("boris", "10.0.0.2") is None
    clock.now += 15 * 60 + 1
    assert throttle.login_locked("anna", "10.0.0.2") is None


def test_a_success_clears_the_name_but_not_the_address(throttle: Throttle) -> None:
    for _ in range(2):
        throttle.login_failed("anna", "10.0.0.1")
    throttle.login_succeeded("anna")
    for _ in range(2):
        throttle.login_failed("anna", "10.0.0.1")

    assert throttle.login_locked("anna", "10.0.0.9") is None
    throttle.login_refused("10.0.0.1")
    assert throttle.login_locked("someone", "10.0.0.1") is not None  # 5 against the address


def test_checks_are_counted_per_address(throttle: Throttle, clock: Clock) -> None:
    assert throttle.check_allowed("10.0.0.1") is None
    assert throttle.check_allowed("10.0.0.1") is None
    refused = throttle.check_allowed("10.0.0.1")

    assert refused is not None and refused.minutes(clock.now) == 1
    assert throttle.check_allowed("10.0.0.2") is None
    clock.now += 61
    assert throttle.check_allowed("10.0.0.1") is None


def test_the_storage_forgets_ended_windows(throttle: Throttle, clock: Clock) -> None:
    storage = throttle.storage
    assert isinstance(storage, SqlStorage)
    assert storage.incr("k", 10) == 1 and storage.incr("k", 10, amount=2) == 3
    assert storage.get("k") == 3 and storage.get_expiry("k") == clock.now + 10
    clock.now += 11
    assert storage.get("k") == 0
    assert storage.incr("k", 10) == 1  # a new window, not 4
    storage.clear("k")
    assert storage.get("k") == 0 and storage.check()


def test_a_keyring_seals_with_its_first_key_and_opens_with_any(tmp_path: Path) -> None:
    file = tmp_path / "keys" / "server.key"
    keyring = Keyring.from_file(file, create=True)
    old = keyring.seal({"last_name": "Иванов"})
    add_key(file)
    keyring.refresh(force=True)
    new = keyring.seal({"last_name": "Петров"})

    assert stat.S_IMODE(file.stat().st_mode) == 0o600 and stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert is_sealed(old) and is_sealed(new) and old[:8] != new[:8] == keyring.primary_id
    assert "Иванов" not in old and keyring.open(old) == {"last_name": "Иванов"}
    assert keyring.reseal(old).startswith(keyring.primary_id + ":")
    assert keyring.open(keyring.reseal(old)) == {"last_name": "Иванов"}


def test_a_keyring_refuses_open_files_foreign_values_and_tampering(tmp_path: Path) -> None:
    file = tmp_path / "server.key"
    keyring = Keyring.from_file(file, create=True)
    sealed = keyring.seal("x")
    file.chmod(0o640)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.from_file(file)
    with pytest.raises(UnknownKeyError):
        Keyring.generate().open(sealed)
    with pytest.raises(KeyringError, match="altered"):
        keyring.open(sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:])
    with pytest.raises(KeyringError, match="not sealed"):
        keyring.open('{"last_name": "Иванов"}')
    with pytest.raises(KeyringError, match="not found"):
        Keyring.from_file(tmp_path / "absent.key")


def test_digests_need_the_index_key_and_depend_only_on_the_normalised_value() -> None:
    keyring = Keyring.generate()
    with pytest.raises(KeyringError):
        keyring.digest("phone", "+79161234567")
    keyring.set_index_key(b"k" * 32)
    same = {
        keyring.digest("phone", normalise("phone", v) or "")
        for v in ("+7 (916) 123-45-67", "89161234567", "9161234567")
    }
    assert len(same) == 1
    assert keyring.digest("phone", "+79161234567") != keyring.digest("passport", "+79161234567")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("plate", "a 123 bc 77", "А123ВС77"),
        ("vin", "xta21099012345678", "XTA21099012345678"),
        ("passport", "4510123456", "4510 123456"),
        ("licence", "77 01 123456", "77 01 123456"),
        ("phone", "not a phone", "NOTAPHONE"),
        ("phone", "", None),
    ],
)
def test_searchable_values_are_normalised_as_the_kiosk_normalises_input(
    field: str, value: str, expected: str | None
) -> None:
    assert normalise(field, value) == expected


@given(st.text())
def test_no_csv_cell_starts_a_formula(value: str) -> None:
    cell = csv_cell(value)
    if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        assert cell.lstrip("-").replace(".", "", 1).replace(",", "", 1).isdigit()
    assert cell in (value, "'" + value)


def test_plain_numbers_stay_numbers_in_csv() -> None:
    assert csv_cell("-1500.00") == "-1500.00"
    assert csv_cell(-1500) == -1500
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("+79160000000") == "'+79160000000"


@given(
    st.recursive(
        st.text() | st.integers() | st.none(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
    )
)
def test_text_that_is_not_unicode_is_found_at_any_depth(value: object) -> None:
    def has_surrogate(item: object) -> bool:
        if isinstance(item, str):
            return any(0xD800 <= ord(ch) <= 0xDFFF for ch in item)
        if isinstance(item, dict):
            return any(has_surrogate(k) or has_surrogate(v) for k, v in item.items())
        if isinstance(item, list):
            return any(has_surrogate(v) for v in item)
        return False

    if has_surrogate(value):
        with pytest.raises(ValueError):
            refuse_invalid_text(value)
    else:
        refuse_invalid_text(value)


def test_an_event_with_a_lone_surrogate_is_a_validation_error() -> None:
    event = {"event_id": "E-1", "kind": "sale.abandoned", "kiosk_id": "K-1", "created_at": "2026-11-21T10:00:00+03:00",
             "payload": {"nested": [{"reason": "ok \ud800"}]}}  # fmt: skip
    with pytest.raises(ValueError, match="lone surrogate"):
        EventBatch.model_validate({"events": [event]})


def test_each_route_class_has_its_own_body_limit() -> None:
    limits = BodyLimits(kiosk_batch=1000, kiosk_request=100, form=50, other=10)
    assert limits.for_request("POST", "/api/v1/events") == 1000
    assert limits.for_request("POST", "/api/v1/policies") == 100
    assert limits.for_request("GET", "/api/v1/events") == 100
    assert limits.for_request("POST", "/login") == 50
    assert limits.for_request("POST", "/dashboard/applications/A-1/status") == 50
    assert limits.for_request("POST", "/check") == 10
    assert limits.for_request("GET", "/dashboard") == 10
