"""Framing, CRC and APDU decoding against every vector in tests/data/zvt_vectors.json.

The vectors come from public ZVT implementations' unit tests and real terminal traces (see the
file's ``source`` fields); each serial frame's CRC is CRC-16/KERMIT.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drivers.payment import messages as m
from drivers.payment.apdu import decode_apdu, find_tlv, parse_bmps, parse_tlv
from drivers.payment.framing import crc16_kermit, decode_frame, encode_frame, frame_crc

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "zvt_vectors.json").read_text(encoding="utf-8")
)["vectors"]
BY_ID = {v["id"]: v for v in VECTORS}
MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2024, 11, 30, 12, 0, tzinfo=MSK)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def apdu_of(vector_id: str) -> bytes:
    vector = BY_ID[vector_id]
    return hexbytes(vector["apdu_hex"] if vector["layer"] == "serial_frame" else vector["hex"])


def data_of(vector_id: str) -> bytes:
    return decode_apdu(apdu_of(vector_id)).data


def test_the_vector_file_has_all_43_vectors() -> None:
    assert len(VECTORS) == 43
    assert sum(v["layer"] == "serial_frame" for v in VECTORS) == 13


def test_crc_is_crc16_kermit_with_its_catalogue_check_value() -> None:
    assert crc16_kermit(b"123456789") == 0x2189
    assert frame_crc(hexbytes("80 00 00")) == hexbytes("F5 1F")


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["layer"] == "serial_frame"], ids=lambda v: v["id"])
def test_serial_frames_encode_and_decode_exactly(vector: dict[str, Any]) -> None:
    frame, apdu = hexbytes(vector["hex"]), hexbytes(vector["apdu_hex"])
    assert encode_frame(apdu) == frame
    assert decode_frame(frame) == apdu
    assert frame[-2:] == hexbytes(vector["crc_lo_hi_hex"])


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["layer"] == "apdu"], ids=lambda v: v["id"])
def test_apdus_parse_with_their_length_field_and_frame_as_computed(vector: dict[str, Any]) -> None:
    raw = hexbytes(vector["hex"])
    apdu = decode_apdu(raw)
    assert len(apdu.data) == vector["checks"]["apdu_length"]["declared_length"]
    canonical = not (raw[2] == 0xFF and len(apdu.data) < 0xFF)  # A13 spells a short length long
    assert (apdu.encode() == raw) is canonical
    assert decode_apdu(apdu.encode()) == apdu
    assert encode_frame(raw) == hexbytes(vector["serial_frame_hex_computed"])
    assert decode_frame(encode_frame(raw)) == raw


def test_extended_length_is_little_endian_after_ff() -> None:
    apdu = decode_apdu(apdu_of("A13"))
    assert (apdu.cls, apdu.instr, apdu.data) == (0x04, 0x0F, b"\x6c")
    assert m.Apdu(0x06, 0xD3, bytes(256)).encode()[:5] == hexbytes("06 D3 FF 00 01")
    assert m.Apdu(0x06, 0xD3, bytes(254)).encode()[:3] == hexbytes("06 D3 FE")


def test_dle_inside_the_apdu_is_doubled_on_the_wire_but_not_in_the_crc() -> None:
    frame = encode_frame(apdu_of("F02"))
    assert b"\x01\x10\x10\x00" in frame
    assert frame[-2:] == hexbytes("F2 FF")


def test_ecr_commands_are_built_byte_for_byte_like_the_vectors() -> None:
    assert m.registration("123456", 978, 0xBA) == apdu_of("F01")
    assert m.registration("123456", 978, 0xDE) == apdu_of("A14")
    assert m.authorisation(11000, 978) == apdu_of("F02")
    assert m.authorisation(1250, 978) == apdu_of("A27")
    assert m.status_enquiry("123456") == apdu_of("F05")
    assert m.status_enquiry("123456", service_byte=0x04) == apdu_of("F06")
    assert m.diagnosis() == apdu_of("F07")
    assert m.end_of_day("123456") == apdu_of("A17")
    assert m.log_off() == apdu_of("A24")
    assert apdu_of("F04") == m.NOT_FINISHED
    assert apdu_of("F03") == m.POSITIVE
    assert m.negative(0x66) == apdu_of("A04")
    assert m.abort_pt(0x64) == apdu_of("A05")
    tlv26 = bytes.fromhex("26040A0206D3")
    assert m.registration("123456", 978, 0xBE, tlv26) == apdu_of("A26")


def test_payment_status_information_decodes_every_field_and_keeps_the_pan_masked() -> None:
    info = m.decode_status_info(data_of("A07"), MSK, NOW)
    assert info.result_code == 0
    assert info.amount == Decimal("20.40")
    assert (info.trace, info.receipt_no, info.turnover_no) == ("000470", "0470", "000470")
    assert info.masked_pan == "************4771"
    assert info.terminal_id == "28004869"
    assert info.auth_code == "611804"
    assert info.card_type == "Debit Mastercard"
    assert info.card_type_id == 0x2E
    assert info.currency == 978
    assert info.additional_text == "GEN.NR.:611804"
    assert info.timestamp == datetime(2024, 10, 6, 22, 39, 53, tzinfo=MSK)


def test_partially_masked_pan_keeps_bin_and_last_four_as_a_string() -> None:
    info = m.decode_status_info(data_of("A18"), MSK, NOW)
    assert info.masked_pan == "559883******8074"
    assert info.amount == Decimal("25.00")
    assert (info.receipt_no, info.trace, info.auth_code) == ("0231", "000975", "750071")
    assert info.card_type == "MasterCard"


def test_track2_like_pan_loses_its_tail_and_is_masked_by_the_driver() -> None:
    info = m.decode_status_info(data_of("A25"), MSK, NOW)
    assert info.masked_pan == "******6666"
    assert info.card_type == "ec-card"
    assert info.amount == Decimal("40.00")


def test_a_full_pan_from_a_terminal_is_masked_to_the_last_four_digits() -> None:
    assert m.mask_pan(hexbytes("5598830000008074")) == "************8074"
    assert m.mask_pan(hexbytes("559883EEEEEE8074")) == "559883******8074"


def test_contactless_status_information_reads_the_tlv_container() -> None:
    info = m.decode_status_info(data_of("A09"), MSK, NOW)
    assert info.trace == "10015008"  # long trace number from TLV 1F2B
    assert info.card_type == "MASTERCARD"
    assert info.receipt_no == "0008"
    tlv = parse_bmps(data_of("A09")).tlv
    technology = find_tlv(tlv, 0x1F12)
    assert technology is not None and technology.value == b"\x02"
    name = find_tlv(tlv, 0x44)
    assert name is not None and name.value == b"Debit Mastercard"


def test_declined_status_information_carries_code_and_display_text() -> None:
    info = m.decode_status_info(data_of("A08"), MSK, NOW)
    assert info.result_code == 0x05
    assert info.display_texts == ("Abgelehnt",)
    assert info.card_type == "Mastercard"


def test_customer_abort_status_information_has_result_6c() -> None:
    info = m.decode_status_info(data_of("A06"), MSK, NOW)
    assert info.result_code == 0x6C
    assert info.additional_text == "Abbruch durch Kunde"


def test_end_of_day_totals_are_decoded_per_card_group() -> None:
    info = m.decode_status_info(data_of("A19"), MSK, NOW)
    assert info.amount == Decimal("9.58")
    assert info.receipt_range == ("0233", "0234")
    groups = {t.card_type: (t.count, t.amount) for t in info.totals}
    assert groups["Eurocard"] == (2, Decimal("9.58"))
    assert sum(t.count for t in info.totals) == 2


def test_intermediate_status_with_timeout_and_display_texts() -> None:
    status = m.decode_intermediate(data_of("A10"))
    assert status.code == 0xFF
    assert status.timeout_minutes == 10
    assert status.texts == ("EUR 1.23", "Bitte warten")
    plain = m.decode_intermediate(data_of("A16"))
    assert (plain.code, plain.timeout_minutes, plain.texts) == (0x17, None, ())


def test_print_lines_and_the_large_print_block() -> None:
    assert m.decode_print_line(data_of("A11")) == (0x81, "")
    assert m.decode_print_line(data_of("A12")) == (0x40, "** KASSENSCHNITT **")
    assert m.decode_print_line(data_of("F08")) == (0x00, "Gesamt      0       0,00")
    receipt_type, lines, last = m.decode_print_block(data_of("A30"))
    assert receipt_type == 0x02
    assert last is True
    assert any("Kundenbeleg" in line for line in lines)
    assert len(lines) > 20


def test_status_enquiry_completion_reads_the_positional_software_version() -> None:
    assert m.decode_enquiry_completion(data_of("F09")).software_version == "2.14.15"
    real = m.decode_enquiry_completion(data_of("F13"))
    assert (real.software_version, real.terminal_status) == ("061022a M IC_ Std", 0x00)


def test_registration_completion_and_aborts() -> None:
    done = m.decode_registration_completion(data_of("A15"))
    assert (done.status_byte, done.terminal_id, done.currency, done.vending_mode) == (0x10, "52523535", 978, True)
    assert m.decode_abort(data_of("A05")) == (0x64, None)
    assert m.decode_abort(data_of("A20"))[0] == 0xB8
    assert m.decode_abort(data_of("A21")) == (0x6C, "Abbruch durch externes Kommando!")


def test_registration_tlv_lists_permitted_commands() -> None:
    data = data_of("A29")
    fields = parse_bmps(data[6:])  # after password (3), config byte (1), currency (2)
    commands = find_tlv(fields.tlv, 0x26)
    assert commands is not None
    assert [c.value for c in commands.children] == [
        bytes.fromhex(x) for x in ("040F", "060F", "061E", "04FF", "06D8", "06DB", "06D9", "06DA", "06DD", "06D3")
    ]


def test_our_registration_matches_the_vendor_recommended_vending_registration_but_lists_more_commands() -> None:
    # A26 (vendor memo): config BE, CC, TLV 26 {0A 06 D3}. Ours has the same head and lists 06 D3 too.
    ours = decode_apdu(m.registration("123456", 978, tlv=m.registration_tlv())).data
    vendor = data_of("A26")
    assert ours[:6] == vendor[:6]
    commands = find_tlv(parse_bmps(ours[6:]).tlv, 0x26)
    assert commands is not None and bytes.fromhex("06D3") in [c.value for c in commands.children]
    assert bytes.fromhex("06D1") not in [c.value for c in commands.children]  # 06 D1 would win by default


def test_a_charset_with_an_iso_code_is_configured_through_tlv_27_and_cp866_is_not() -> None:
    latin = find_tlv(
        parse_bmps(decode_apdu(m.registration("000000", tlv=m.registration_tlv("latin-1"))).data[6:]).tlv, 0x27
    )
    assert latin is not None and latin.value == bytes.fromhex("140101")
    for name in ("cp437", "cp866", "cp1251"):
        tlv = parse_bmps(decode_apdu(m.registration("000000", tlv=m.registration_tlv(name))).data[6:]).tlv
        assert find_tlv(tlv, 0x27) is None


def test_a_wrong_currency_is_result_6f_in_the_data_of_84_1e_not_1e() -> None:
    assert m.decode_negative(m.wrong_currency(643)) == (0x6F, 643)
    assert m.decode_negative(bytes.fromhex("841E016F")) == (0x6F, None)
    assert m.decode_negative(m.negative(0x83)) == (0x83, None)
    assert m.decode_abort(decode_apdu(m.abort_pt(0x6F, currency=978)).data) == (0x6F, None)


def test_repeat_receipt_asks_for_the_status_information_with_service_byte_01() -> None:
    assert m.repeat_receipt("123456") == bytes.fromhex("0620051234560301")


def test_constructed_tlv_nests_and_unknown_tags_are_kept() -> None:
    fields = parse_bmps(data_of("A23"))
    assert fields.tlv[0].tag == 0xF2
    assert fields.tlv[0].children[0].tag == 0xC1
    assert fields.tlv[0].children[0].value == b"\x12\x23"
    assert parse_tlv(bytes.fromhex("DF7F0101 0701 41")) == parse_tlv(bytes.fromhex("DF7F010107014 1".replace(" ", "")))


def test_an_unknown_bmp_ends_parsing_without_failing_and_keeps_the_rest() -> None:
    fields = parse_bmps(bytes.fromhex("2700 9901020304 0400"))
    assert fields.get(0x27) == b"\x00"
    assert fields.unparsed == bytes.fromhex("99010203040400")


def test_display_text_bmps_are_llvar() -> None:
    fields = parse_bmps(data_of("A28"))
    assert fields.get(0xF1) == b"Hallo Welt"
