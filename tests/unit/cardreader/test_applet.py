"""Our applet's wire spec, from both ends: exact APDU bytes, known-answer MACs, T=0 habits, refusals."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.cardreader import CardCommunicationError, CardRefusedError, card_mac
from drivers.cardreader.applet import AID, describe_sw, read_service_card, split_response, validate_card_id
from drivers.cardreader.simcard import DEFAULT_ATR, SimulatedServiceCard, parse_command
from kiosk.service_access import derive_card_key

MASTER = bytes(range(32))
CHALLENGE = bytes(range(16))
# Written down from the spec (README "Service card reader"), not computed by the code under test.
KNOWN_CARD_KEY = "532c6c5852a719f3a08b54c670772721d6df9a5ebd5e80f34972c7bb5e20e0c2"
KNOWN_MAC = "8324800eb7b48b876c8333176647b6c0745eebf858911703532370786290136c"


def transmit_to(card: SimulatedServiceCard) -> Callable[[bytes], tuple[bytes, int]]:
    return lambda apdu: split_response(card.process(apdu))


def test_key_derivation_and_mac_match_the_published_vector() -> None:
    key = derive_card_key(MASTER, "TECH-0042")

    assert key.hex() == KNOWN_CARD_KEY
    assert card_mac(key, "TECH-0042", CHALLENGE).hex() == KNOWN_MAC
    by_hand = hmac.new(key, b"OSAGO-SVC-AUTH-1\x09TECH-0042" + CHALLENGE, hashlib.sha256).hexdigest()
    assert by_hand == KNOWN_MAC


def test_the_exchange_sends_exactly_select_get_data_and_internal_authenticate() -> None:
    card = SimulatedServiceCard("TECH-0042", bytes.fromhex(KNOWN_CARD_KEY))

    card_id, mac = read_service_card(transmit_to(card), CHALLENGE)

    assert (card_id, mac.hex()) == ("TECH-0042", KNOWN_MAC)
    assert [c.hex() for c in card.commands] == [
        "00a4040c0a" + AID.hex(),
        "00ca010100",
        "0088000110" + CHALLENGE.hex() + "00",
    ]
    assert bytes.fromhex("F04F5341474F53564301") == AID


def test_a_t0_card_is_read_through_get_response() -> None:
    card = SimulatedServiceCard("TECH-0042", bytes.fromhex(KNOWN_CARD_KEY), t0=True)

    _, mac = read_service_card(transmit_to(card), CHALLENGE)

    assert mac.hex() == KNOWN_MAC
    assert [c[:2] for c in card.commands].count(b"\x00\xc0") == 2


def test_a_wrong_le_is_repeated_with_the_length_the_card_asks_for() -> None:
    card = SimulatedServiceCard("TECH-0042", bytes(32))
    sent: list[bytes] = []

    def transmit(apdu: bytes) -> tuple[bytes, int]:
        sent.append(apdu)
        if apdu[1] == 0xCA and apdu[-1] == 0:
            return b"", 0x6C09  # a card that wants the exact length
        return split_response(card.process(apdu))

    card_id, _ = read_service_card(transmit, CHALLENGE)

    assert card_id == "TECH-0042"
    assert sent[2].hex() == "00ca010109"


def test_a_card_without_our_applet_is_refused_with_its_status_word() -> None:
    other = SimulatedServiceCard("TECH-0042", bytes(32))

    def transmit(apdu: bytes) -> tuple[bytes, int]:
        if apdu[1] == 0xA4:
            return b"", 0x6A82
        return split_response(other.process(apdu))

    with pytest.raises(CardRefusedError, match="6A82 applet not found") as caught:
        read_service_card(transmit, CHALLENGE)
    assert caught.value.sw == 0x6A82


def test_commands_before_select_are_refused_by_the_card() -> None:
    card = SimulatedServiceCard("TECH-0042", bytes(32))

    assert card.process(bytes.fromhex("00ca010100")) == b"\x69\x85"
    assert card.process(bytes.fromhex("0088000110") + CHALLENGE + b"\x00") == b"\x69\x85"
    assert card.process(bytes.fromhex("00a4040c05a000000003")) == b"\x6a\x82"
    assert card.process(bytes.fromhex("80ca010100")) == b"\x6e\x00"
    assert card.process(bytes.fromhex("00b0000000")) == b"\x6d\x00"


def test_a_card_id_that_is_not_a_service_card_id_is_a_communication_error() -> None:
    def transmit(apdu: bytes) -> tuple[bytes, int]:
        return (b"tech 42\n", 0x9000) if apdu[1] == 0xCA else (b"", 0x9000)

    with pytest.raises(CardCommunicationError, match="not a valid service card id"):
        read_service_card(transmit, CHALLENGE)


def test_a_short_mac_is_a_communication_error() -> None:
    card = SimulatedServiceCard("TECH-0042", bytes(32))

    def transmit(apdu: bytes) -> tuple[bytes, int]:
        data, sw = split_response(card.process(apdu))
        return (data[:16], sw) if apdu[1] == 0x88 else (data, sw)

    with pytest.raises(CardCommunicationError, match="16 bytes"):
        read_service_card(transmit, CHALLENGE)


@pytest.mark.parametrize("card_id", ["", "tech-1", "-TECH", "TECH 1", "T" * 33, "ТЕХ-1"])
def test_malformed_card_ids_are_refused(card_id: str) -> None:
    with pytest.raises(ValueError):
        validate_card_id(card_id)


@pytest.mark.parametrize("size", [0, 7, 65])
def test_challenges_outside_8_to_64_bytes_are_refused(size: int) -> None:
    with pytest.raises(ValueError):
        card_mac(bytes(32), "TECH-1", bytes(size))


def test_status_words_are_described_from_the_table() -> None:
    assert describe_sw(0x6982) == "6982 security status not satisfied"
    assert describe_sw(0x63C2).startswith("63C2 warning")
    assert describe_sw(0x1234) == "1234 unknown status"


def test_the_default_atr_carries_a_correct_check_byte() -> None:
    tck = 0
    for byte in DEFAULT_ATR[1:-1]:
        tck ^= byte
    assert DEFAULT_ATR[-1] == tck


@given(st.binary(max_size=300))
def test_the_card_answers_any_bytes_with_a_status_word_and_never_raises(apdu: bytes) -> None:
    card = SimulatedServiceCard("TECH-0042", bytes(32))
    card.process(bytes.fromhex("00a4040c0a") + AID)

    answer = card.process(apdu)

    assert len(answer) >= 2


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(min_size=1, max_size=255),
    st.none() | st.integers(0, 255),
)
def test_short_apdus_split_back_into_their_parts(ins: int, p1: int, data: bytes, le: int | None) -> None:
    apdu = bytes([0, ins, p1, 0, len(data)]) + data + (bytes([le]) if le is not None else b"")

    assert parse_command(apdu) == (0, ins, p1, 0, data, le)
