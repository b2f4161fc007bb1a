"""Service cards through the real stack: virtual card → vpcd → pcscd → pyscard backend → ServiceMode.

GIVEN a pcscd with vsmartcard's virtual reader and our virtual service card,
WHEN a technician inserts a card, types a PIN, pulls the card, or pcscd restarts,
THEN technician access opens, refuses, locks and closes exactly as the rules say.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from drivers.cardreader import open_reader
from drivers.cardreader import pcsc_codes as pc
from drivers.cardreader.pcsc import PcscReader
from drivers.cardreader.simcard import SimulatedServiceCard
from kiosk.service_access import (
    AccessPolicy,
    AccessState,
    AuditEvent,
    AuditKind,
    CloseReason,
    Phase,
    PinResult,
    ServiceAccess,
    derive_card_key,
)
from kiosk.service_mode import ServiceMode
from kiosk.service_store import JsonAttemptStore
from tests.support.clock import FakeClock
from tests.support.pcscd import PcscdService
from tests.support.technician import CARD_ID, PIN, PIN_HASH
from tests.support.virtual_card import VirtualCard

pytestmark = [pytest.mark.integration, pytest.mark.serial_only, pytest.mark.timeout(60)]

MASTER_KEY = bytes.fromhex("8f" * 16 + "21" * 16)


@dataclass
class Kiosk:
    """The kiosk side of a test: service mode on the real PC/SC backend, a fake clock, the audit trail."""

    mode: ServiceMode
    clock: FakeClock
    changes: queue.Queue[AccessState]
    audit: list[AuditEvent] = field(default_factory=list)

    def wait_for(self, phase: Phase, timeout: float = 10.0) -> AccessState:
        """The first state change into ``phase`` (fails on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {phase} within {timeout} s; now {self.mode.state}")
            try:
                state = self.changes.get(timeout=remaining)
            except queue.Empty:
                continue
            if state.phase is phase:
                return state

    def audit_kinds(self) -> list[AuditKind]:
        return [event.kind for event in self.audit]


@pytest.fixture
def kiosk_factory(pcscd: PcscdService, tmp_path: Path) -> Iterator[Callable[..., Kiosk]]:
    """Builds kiosks on the vpcd reader (named explicitly: virtual readers are otherwise ignored)."""
    made: list[ServiceMode] = []
    attempts = tmp_path / "service-attempts.json"

    def build(*, clock: FakeClock | None = None, url: str | None = None) -> Kiosk:
        clock = clock or FakeClock()
        changes: queue.Queue[AccessState] = queue.Queue()
        audit: list[AuditEvent] = []
        access = ServiceAccess(
            master_key=MASTER_KEY,
            cards={CARD_ID: PIN_HASH},
            store=JsonAttemptStore(attempts),
            policy=AccessPolicy(max_attempts=5, lockout=timedelta(minutes=30), idle=timedelta(minutes=10)),
            clock=clock,
            audit=audit.append,
        )
        reader = open_reader(url or f"pcsc://?reader={quote(pcscd.reader_name)}&poll=0.2&backoff_max=0.5")
        mode = ServiceMode(reader, access, changes.put)
        made.append(mode)
        mode.start()
        return Kiosk(mode, clock, changes, audit)

    yield build
    for mode in made:
        mode.stop()


def genuine_card(pcscd: PcscdService, *, t0: bool = False) -> VirtualCard:
    key = derive_card_key(MASTER_KEY, CARD_ID)
    return VirtualCard(SimulatedServiceCard(CARD_ID, key, t0=t0), lambda: pcscd.endpoint)


def test_our_pcsc_constants_are_pyscards() -> None:
    from smartcard import scard

    for name in dir(pc):
        if name.startswith("SCARD_"):
            assert getattr(pc, name) == getattr(scard, name) & 0xFFFFFFFF, name


def test_a_genuine_card_and_its_pin_open_service_mode(pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]) -> None:
    kiosk = kiosk_factory()

    with genuine_card(pcscd):
        state = kiosk.wait_for(Phase.AWAITING_PIN)
        assert (state.card_id, state.reader, state.attempts_left) == (CARD_ID, pcscd.reader_name, 5)

        assert kiosk.mode.enter_pin(PIN) is PinResult.ACCEPTED
        assert kiosk.mode.state.is_open

    assert kiosk.audit_kinds()[0] is AuditKind.SESSION_OPENED
    assert kiosk.audit[0].card_id == CARD_ID and kiosk.audit[0].verified


def test_a_t0_card_answering_61xx_is_read_with_get_response(
    pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]
) -> None:
    kiosk = kiosk_factory()

    with genuine_card(pcscd, t0=True) as card:
        kiosk.wait_for(Phase.AWAITING_PIN)

    assert any(apdu[:2] == b"\x00\xc0" for apdu in card.card.commands)  # type: ignore[attr-defined]


def test_a_card_computing_with_another_key_is_refused(pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]) -> None:
    kiosk = kiosk_factory()
    forged = SimulatedServiceCard(CARD_ID, derive_card_key(bytes(32), CARD_ID))

    with VirtualCard(forged, pcscd.endpoint):
        state = kiosk.wait_for(Phase.REJECTED)

    assert state.reason == "bad_response"
    assert state.card_id is None
    assert kiosk.mode.enter_pin(PIN) is PinResult.NOT_EXPECTED
    refused = kiosk.audit[0]
    assert (refused.kind, refused.card_id, refused.verified) == (AuditKind.CARD_REFUSED, CARD_ID, False)


def test_a_wrong_pin_is_refused_and_counted(pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]) -> None:
    kiosk = kiosk_factory()

    with genuine_card(pcscd):
        kiosk.wait_for(Phase.AWAITING_PIN)
        assert kiosk.mode.enter_pin("0000") is PinResult.REJECTED

        assert kiosk.mode.state.attempts_left == 4
        assert not kiosk.mode.state.is_open

    rejected = kiosk.audit[0]
    assert (rejected.kind, rejected.attempts_left) == (AuditKind.PIN_REJECTED, 4)
    assert "0000" not in repr(kiosk.audit)


def test_five_wrong_pins_lock_the_card_across_a_restart_until_the_lockout_expires(
    pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]
) -> None:
    clock = FakeClock()
    kiosk = kiosk_factory(clock=clock)
    card = genuine_card(pcscd)

    with card:
        kiosk.wait_for(Phase.AWAITING_PIN)
        results = [kiosk.mode.enter_pin("0000") for _ in range(5)]
        assert results == [PinResult.REJECTED] * 4 + [PinResult.LOCKED]
        assert kiosk.mode.state.locked_until == clock.now() + timedelta(minutes=30)
    kiosk.wait_for(Phase.NO_CARD)
    kiosk.mode.stop()

    # The kiosk restarts (same attempt file): the card is still locked, even with the right PIN.
    clock.advance(timedelta(minutes=29))
    restarted = kiosk_factory(clock=clock)
    with card:
        state = restarted.wait_for(Phase.REJECTED)
        assert state.reason == "locked"
        assert restarted.mode.enter_pin(PIN) is PinResult.NOT_EXPECTED
    restarted.wait_for(Phase.NO_CARD)

    clock.advance(timedelta(minutes=1))
    with card:
        restarted.wait_for(Phase.AWAITING_PIN)
        assert restarted.mode.enter_pin(PIN) is PinResult.ACCEPTED

    assert AuditKind.LOCKOUT_STARTED in kiosk.audit_kinds()
    assert restarted.audit_kinds()[:2] == [AuditKind.CARD_LOCKED, AuditKind.SESSION_OPENED]


def test_pulling_the_card_mid_session_closes_it(pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]) -> None:
    kiosk = kiosk_factory()
    card = genuine_card(pcscd)
    card.insert()
    kiosk.wait_for(Phase.AWAITING_PIN)
    kiosk.mode.enter_pin(PIN)

    card.remove()

    kiosk.wait_for(Phase.NO_CARD)
    closed = kiosk.audit[-1]
    assert (closed.kind, closed.reason, closed.card_id) == (AuditKind.SESSION_CLOSED, CloseReason.REMOVED, CARD_ID)


def test_an_idle_session_is_closed_while_the_card_stays_in(
    pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]
) -> None:
    kiosk = kiosk_factory()
    with genuine_card(pcscd):
        kiosk.wait_for(Phase.AWAITING_PIN)
        kiosk.mode.enter_pin(PIN)
        kiosk.clock.advance(timedelta(minutes=9))
        assert kiosk.mode.check_idle().is_open

        kiosk.clock.advance(timedelta(minutes=1))
        state = kiosk.mode.check_idle()

        assert (state.phase, state.reason) == (Phase.REJECTED, CloseReason.IDLE)
        assert kiosk.audit[-1].reason == CloseReason.IDLE


def test_the_watcher_survives_a_pcscd_restart_and_sees_the_next_card(
    pcscd: PcscdService, kiosk_factory: Callable[..., Kiosk]
) -> None:
    if not pcscd.owned:
        pytest.skip("the machine's own pcscd is in use; the test does not kill it")
    kiosk = kiosk_factory()
    card = genuine_card(pcscd)
    card.insert()
    kiosk.wait_for(Phase.AWAITING_PIN)
    kiosk.mode.enter_pin(PIN)

    try:
        pcscd.kill()
        # Losing the service counts as losing the card: the session closes at once.
        kiosk.wait_for(Phase.NO_CARD, timeout=5)
        card.remove()
    finally:
        pcscd.start()

    card.insert()
    state = kiosk.wait_for(Phase.AWAITING_PIN, timeout=15)
    card.remove()

    assert state.card_id == CARD_ID
    status = kiosk.mode.reader_status()
    assert status.reconnects >= 1 and status.service and status.watching
    assert AuditKind.SESSION_CLOSED in kiosk.audit_kinds()


def test_virtual_readers_are_ignored_unless_configured(pcscd: PcscdService) -> None:
    events: list[object] = []
    reader = open_reader("pcsc://?poll=0.2")
    assert isinstance(reader, PcscReader)
    reader.start(events.append)
    try:
        with genuine_card(pcscd):
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline and pcscd.reader_name not in reader.status().ignored:
                time.sleep(0.05)
            time.sleep(0.6)
            status = reader.status()
    finally:
        reader.stop()

    assert events == []
    assert pcscd.reader_name in status.ignored
    assert not status.ok and "no card reader connected" in status.problems()[0]


def test_service_card_check_opens_with_the_configured_card_and_pin(
    pcscd: PcscdService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import json

    from kiosk.cli import main

    key_file = tmp_path / "service-card.key"
    key_file.write_text(MASTER_KEY.hex() + "\n")
    key_file.chmod(0o600)
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[data]\ndir = "state"\n[cardreader]\nurl = "pcsc://?reader={quote(pcscd.reader_name)}&poll=0.2"\n'
        f'[service_card]\nmaster_key_file = "service-card.key"\n'
        f'[[service_card.cards]]\nid = "{CARD_ID}"\npin = "{PIN_HASH}"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))

    with genuine_card(pcscd):
        code = main(["--config", str(config), "service-card", "check", "--stdin", "--timeout", "10"])

    verdict = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (verdict["result"], verdict["card_id"]) == ("open", CARD_ID)
    assert [event["kind"] for event in verdict["audit"]] == ["session_opened", "session_closed"]
