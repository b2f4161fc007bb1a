"""Property tests: the decoders take any bytes and answer only with ProtocolError, never hang."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.payment import messages as m
from drivers.payment.apdu import Apdu, decode_apdu, parse_bmps, parse_tlv
from drivers.payment.errors import InvalidAmountError, ProtocolError
from drivers.payment.framing import ApduAssembler, BadFrame, FrameDecoder, decode_frame, encode_frame
from drivers.payment.models import validate_amount

MSK = ZoneInfo("Europe/Moscow")
FUZZ = settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow])
# Bytes rich in the ones that matter to the framing and the field formats.
SPICY = st.binary(max_size=300) | st.lists(
    st.sampled_from([0x10, 0x02, 0x03, 0x06, 0x15, 0xFF, 0xF0, 0xF1, 0xF9, 0x27, 0x06, 0x82, 0x81, 0x1F, 0x00]),
    max_size=120,
).map(bytes)
APDUS = st.builds(
    lambda cls, instr, data: Apdu(cls, instr, data).encode(),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=600) | st.lists(st.sampled_from([0x10, 0x03, 0x02]), max_size=40).map(bytes),
)

DECODERS = [
    decode_apdu,
    parse_bmps,
    parse_tlv,
    decode_frame,
    lambda data: m.decode_status_info(data, MSK),
    m.decode_intermediate,
    m.decode_print_line,
    m.decode_print_block,
    m.decode_enquiry_completion,
    m.decode_abort,
    m.decode_registration_completion,
    lambda data: m.decode_negative(b"\x84" + data[:1] + bytes([len(data[1:]) & 0xFF]) + data[1:]),
    m.mask_pan,
]


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: getattr(d, "__name__", "status_info"))
@FUZZ
@given(data=SPICY)
def test_decoders_raise_only_protocol_errors_on_garbage(decoder, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ProtocolError):
        decoder(data)


@FUZZ
@given(control=st.binary(min_size=2, max_size=2))
def test_a_frame_without_its_length_byte_is_read_as_an_empty_apdu(control: bytes) -> None:
    # Some firmware answers End-of-Day with "80 00" / "06 0F" and no length: the CRC is good, so take it.
    frame = encode_frame(control)
    decoder = FrameDecoder()
    assert decoder.feed(frame) == [control + b"\x00"]
    assert decoder.repaired == 1


@FUZZ
@given(
    status=st.none() | st.integers(0, 255),
    tid=st.none() | st.from_regex(r"\A[0-9]{8}\Z"),
    charset=st.none() | st.integers(0, 255),
    commands=st.lists(st.binary(min_size=2, max_size=2), max_size=8),
)
def test_a_registration_completion_round_trips(
    status: int | None, tid: str | None, charset: int | None, commands: list[bytes]
) -> None:
    from drivers.payment.apdu import bcd_encode, encode_bmp, encode_tlv

    data = b""
    if status is not None:
        data += encode_bmp(0x19, bytes([status]))
    if tid is not None:
        data += encode_bmp(0x29, bcd_encode(tid, 4))
    tlv = encode_tlv(0x26, [encode_tlv(0x0A, c) for c in commands]) if commands else b""
    if charset is not None:
        tlv += encode_tlv(0x27, encode_tlv(0x14, bytes([charset])))
    if tlv:
        data += encode_bmp(0x06, tlv)
    done = m.decode_registration_completion(data)
    assert (done.status_byte, done.terminal_id, done.charset_code) == (status, tid, charset)
    assert done.permitted_commands == tuple((c[0], c[1]) for c in commands)
    assert done.vending_mode is (None if status is None else bool(status & 0x10))


@FUZZ
@given(data=SPICY, cut=st.integers(1, 64))
def test_frame_decoder_survives_any_byte_stream_in_any_chunking(data: bytes, cut: int) -> None:
    decoder = FrameDecoder()
    for start in range(0, len(data), cut):
        for event in decoder.feed(data[start : start + cut]):
            assert isinstance(event, bytes | BadFrame)


@FUZZ
@given(apdu=APDUS, cut=st.integers(1, 17), noise=st.binary(max_size=20))
def test_any_apdu_round_trips_through_a_frame_fed_in_pieces(apdu: bytes, cut: int, noise: bytes) -> None:
    # Line noise before the frame must not hide it (as long as the noise does not end in DLE).
    noise = noise.replace(b"\x10", b"")
    stream = noise + encode_frame(apdu)
    decoder = FrameDecoder()
    events: list[bytes | BadFrame] = []
    for start in range(0, len(stream), cut):
        events += decoder.feed(stream[start : start + cut])
    assert events[-1] == apdu
    assert decode_frame(encode_frame(apdu)) == apdu


@FUZZ
@given(apdu=APDUS, keep=st.integers(0, 10_000))
def test_truncated_frames_are_protocol_errors(apdu: bytes, keep: int) -> None:
    frame = encode_frame(apdu)
    truncated = frame[: keep % len(frame)]
    with pytest.raises(ProtocolError):
        decode_frame(truncated)


@FUZZ
@given(apdu=APDUS, position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_a_corrupted_frame_never_yields_a_different_apdu(apdu: bytes, position: int, flip: int) -> None:
    frame = bytearray(encode_frame(apdu))
    frame[position % len(frame)] ^= flip
    # CRC-16 catches every single-byte error; a cut-short frame must also fail its length check.
    assert [e for e in FrameDecoder().feed(bytes(frame)) if isinstance(e, bytes)] == []


@FUZZ
@given(apdus=st.lists(APDUS, max_size=5), cut=st.integers(1, 50))
def test_tcp_assembler_rebuilds_apdus_from_any_fragments(apdus: list[bytes], cut: int) -> None:
    stream = b"".join(apdus)
    assembler = ApduAssembler()
    out: list[bytes] = []
    for start in range(0, len(stream), cut):
        out += assembler.feed(stream[start : start + cut])
    assert out == apdus


@FUZZ
@given(cents=st.integers(1, 100_000_000))
def test_valid_amounts_keep_their_value_with_two_places(cents: int) -> None:
    amount = Decimal(cents).scaleb(-2)
    assert validate_amount(amount) == amount
    assert validate_amount(str(amount)) == amount
    assert validate_amount(amount).as_tuple().exponent == -2


@FUZZ
@given(value=st.decimals(allow_nan=True, allow_infinity=True) | st.floats() | st.text(max_size=12))
def test_amount_validation_accepts_only_positive_two_decimal_sums(value: object) -> None:
    try:
        result = validate_amount(value)
    except InvalidAmountError:
        return
    assert not isinstance(value, float)
    assert Decimal("0") < result <= Decimal("1000000")
    assert result == Decimal(str(value).strip())


@pytest.mark.parametrize("bad", ["0", "-1", "1.001", "1e9", "abc", "", "NaN", 1.5, True, None])
def test_bad_amounts_are_refused(bad: object) -> None:
    with pytest.raises(InvalidAmountError):
        validate_amount(bad)
