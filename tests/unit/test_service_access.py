"""Technician access rules with hand-written fakes: recording reader, memory store, fake clock.

GIVEN a kiosk with one configured service card (TECH-0042, PIN 4826),
WHEN cards come and go and PINs are typed,
THEN access opens only for the genuine card with its PIN, locks, expires and closes as configured,
and every step is audited without a PIN.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.cardreader import CardAnswer, CardCommunicationError
from drivers.cardreader.recorder import RecordingReader
from drivers.cardreader.simcard import SimulatedServiceCard
from kiosk.service_access import (
    AccessPolicy,
    AccessState,
    AttemptStoreError,
    AuditEvent,
    AuditKind,
    CardAttempts,
    KeyFileError,
    MemoryAttemptStore,
    Phase,
    PinHash,
    PinResult,
    ServiceAccess,
    derive_card_key,
    load_master_key,
    new_master_key,
)
from kiosk.service_mode import ServiceMode
from kiosk.service_store import JsonAttemptStore
from tests.support.clock import FakeClock
from tests.support.technician import PIN, PIN_HASH

MASTER = bytes(range(32))
HASH = PIN_HASH


class World:
    def __init__(self, *, store: object | None = None, cards: dict[str, PinHash] | None = None) -> None:
        self.clock = FakeClock()
        self.audit: list[AuditEvent] = []
        self.states: list[AccessState] = []
        self.store = store if store is not None else MemoryAttemptStore()
        self.access = ServiceAccess(
            master_key=MASTER,
            cards=cards if cards is not None else {"TECH-0042": HASH},
            store=self.store,  # type: ignore[arg-type]
            policy=AccessPolicy(max_attempts=5, lockout=timedelta(minutes=30), idle=timedelta(minutes=10)),
            clock=self.clock,
            audit=self.audit.append,
        )
        self.reader = RecordingReader()
        self.mode = ServiceMode(self.reader, self.access, self.states.append)
        self.mode.start()

    def insert(self, card_id: str = "TECH-0042", master: bytes = MASTER) -> AccessState:
        self.reader.insert(SimulatedServiceCard(card_id, derive_card_key(master, card_id)))
        return self.mode.state

    def kinds(self) -> list[AuditKind]:
        return [event.kind for event in self.audit]


def test_the_genuine_card_asks_for_the_pin_and_the_pin_opens() -> None:
    world = World()

    assert world.insert().phase is Phase.AWAITING_PIN
    assert world.mode.enter_pin(PIN) is PinResult.ACCEPTED

    assert world.mode.state.is_open
    assert [s.phase for s in world.states] == [Phase.CHECKING, Phase.AWAITING_PIN, Phase.OPEN]
    assert world.kinds() == [AuditKind.SESSION_OPENED]
    challenge = world.reader.calls[1][1]
    assert isinstance(challenge, bytes) and len(challenge) == 16


def test_each_card_gets_a_fresh_challenge() -> None:
    world = World()
    world.insert()
    world.reader.remove()
    world.insert()

    challenges = [call[1] for call in world.reader.calls if call[0] == "query_card"]
    assert len(set(challenges)) == 2


def test_a_card_keyed_from_another_master_is_refused_whatever_its_id() -> None:
    world = World()

    state = world.insert(master=bytes(32))

    assert (state.phase, state.reason, state.card_id) == (Phase.REJECTED, "bad_response", None)
    assert world.mode.enter_pin(PIN) is PinResult.NOT_EXPECTED
    assert world.audit[0].verified is False


def test_an_answer_to_an_old_challenge_is_refused() -> None:
    world = World()
    key = derive_card_key(MASTER, "TECH-0042")
    old = bytes(16)
    from drivers.cardreader import card_mac

    replay = CardAnswer("TECH-0042", old, card_mac(key, "TECH-0042", old), "r")
    world.access.begin("r")

    assert world.access.present(replay).reason == "stale_challenge"


def test_a_genuine_card_missing_from_the_config_is_refused() -> None:
    world = World()

    state = world.insert("TECH-0099")

    assert (state.phase, state.reason, state.card_id) == (Phase.REJECTED, "unknown_card", "TECH-0099")


def test_a_card_that_cannot_be_read_is_refused_and_audited() -> None:
    world = World()
    world.reader.fail_next(CardCommunicationError("the card did not answer"))

    state = world.insert()

    assert state.phase is Phase.REJECTED and state.reason and state.reason.startswith("unreadable")
    assert world.kinds() == [AuditKind.CARD_REFUSED]


def test_wrong_pins_count_down_then_lock_and_the_lock_expires() -> None:
    world = World()
    world.insert()

    results = [world.mode.enter_pin("1111") for _ in range(5)]

    assert results == [PinResult.REJECTED] * 4 + [PinResult.LOCKED]
    assert [e.attempts_left for e in world.audit if e.kind is AuditKind.PIN_REJECTED] == [4, 3, 2, 1, 0]
    state = world.mode.state
    assert (state.phase, state.reason, state.locked_until) == (
        Phase.REJECTED,
        "locked",
        world.clock.now() + timedelta(minutes=30),
    )
    world.reader.remove()

    world.clock.advance(timedelta(minutes=29, seconds=59))
    assert world.insert().reason == "locked"
    world.reader.remove()
    world.clock.advance(timedelta(seconds=1))
    assert world.insert().phase is Phase.AWAITING_PIN
    assert world.mode.state.attempts_left == 5


def test_a_right_pin_resets_the_count() -> None:
    world = World()
    world.insert()
    world.mode.enter_pin("1111")
    world.mode.enter_pin(PIN)

    assert world.store.load("TECH-0042") == CardAttempts()  # type: ignore[attr-defined]


def test_a_wall_clock_set_back_cannot_lock_a_card_for_ever() -> None:
    store = MemoryAttemptStore()
    world = World(store=store)
    store.save("TECH-0042", CardAttempts(5, world.clock.now() + timedelta(days=365)))

    world.insert()

    assert world.mode.state.locked_until == world.clock.now() + timedelta(minutes=30)


def test_pulling_the_card_closes_the_session_and_the_pin_prompt() -> None:
    world = World()
    world.insert()
    world.reader.remove()
    world.insert()
    world.mode.enter_pin(PIN)
    world.reader.remove()

    assert world.mode.state.phase is Phase.NO_CARD
    assert world.kinds() == [AuditKind.PIN_ABANDONED, AuditKind.SESSION_OPENED, AuditKind.SESSION_CLOSED]
    assert [e.reason for e in world.audit] == ["removed", None, "removed"]


def test_idle_time_closes_the_session_but_activity_keeps_it() -> None:
    world = World()
    world.insert()
    world.mode.enter_pin(PIN)
    world.clock.advance(timedelta(minutes=9))
    world.mode.touch()
    world.clock.advance(timedelta(minutes=9))
    assert world.mode.check_idle().is_open

    world.clock.advance(timedelta(minutes=1))
    state = world.mode.check_idle()

    assert (state.phase, state.reason) == (Phase.REJECTED, "idle")
    assert world.mode.enter_pin(PIN) is PinResult.NOT_EXPECTED, "the card must be inserted again"


def test_logout_and_shutdown_close_an_open_session() -> None:
    world = World()
    world.insert()
    world.mode.enter_pin(PIN)
    assert world.mode.logout().reason == "logout"

    world.reader.remove()
    world.insert()
    world.mode.enter_pin(PIN)
    world.mode.stop()

    assert [e.reason for e in world.audit if e.kind is AuditKind.SESSION_CLOSED] == ["logout", "shutdown"]


def test_an_unreadable_attempt_store_refuses_access() -> None:
    class Broken(MemoryAttemptStore):
        def load(self, card_id: str) -> CardAttempts:
            raise AttemptStoreError("disk gone")

    world = World(store=Broken())

    assert world.insert().reason == "store_error"


def test_the_audit_never_holds_a_pin() -> None:
    world = World()
    world.insert()
    for pin in ("9137", "5501", PIN):
        world.mode.enter_pin(pin)

    text = repr([e.as_dict() for e in world.audit]) + repr(world.states)
    assert "9137" not in text and "5501" not in text and PIN not in text


def test_lockouts_survive_a_restart_through_the_json_store(tmp_path: Path) -> None:
    path = tmp_path / "attempts.json"
    first = World(store=JsonAttemptStore(path))
    first.insert()
    for _ in range(5):
        first.mode.enter_pin("0000")

    second = World(store=JsonAttemptStore(path))  # a new process; its clock starts at the same moment

    assert second.insert().reason == "locked"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_corrupt_attempt_file_is_an_error_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "attempts.json"
    path.write_text("{not json")

    with pytest.raises(AttemptStoreError, match="not JSON"):
        JsonAttemptStore(path).load("TECH-0042")


def test_pin_hashes_round_trip_and_verify() -> None:
    text = str(HASH)

    parsed = PinHash.parse(text)

    assert text.startswith("scrypt$10$8$1$")
    assert parsed == HASH and parsed.verify(PIN) and not parsed.verify("4827") and not parsed.verify("48x6")
    assert PinHash.create(PIN, log2_n=10).salt != HASH.salt


@settings(max_examples=200)
@given(st.text(max_size=120))
def test_pin_hash_parsing_refuses_garbage_with_value_error_only(text: str) -> None:
    try:
        parsed = PinHash.parse(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert PinHash.parse(str(parsed)) == parsed


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4", " 1234", ""])
def test_pins_are_4_to_12_digits(pin: str) -> None:
    with pytest.raises(ValueError):
        PinHash.create(pin, log2_n=10)


def test_master_key_files_must_be_private_and_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "service-card.key"
    path.write_text(new_master_key() + "\n")
    os.chmod(path, 0o600)
    assert len(load_master_key(path)) == 32

    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match="must be 600"):
        load_master_key(path)
    path.write_text("abcd")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="64 hex digits"):
        load_master_key(path)
