"""ZVT code tables as data: result codes, intermediate statuses, terminal statuses, card types.

Sources: ZVT command spec PA00P015 rev. 13.08 §10 (result codes), §3.7 (intermediate status), §2.56
(terminal status), §13 BMP 8A (card types). The Russian texts are what the customer reads on the kiosk
screen while the terminal works; they are ours, short, and deliberately generic where the terminal's
meaning is vague.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple


class Outcome(StrEnum):
    """What became of a transaction, in categories the sale flow acts on."""

    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
    CARD_ERROR = "card_error"
    TIMEOUT = "timeout"
    FAULT = "fault"
    REVERSED = "reversed"


class ResultCode(NamedTuple):
    """One row of the result-code table."""

    text: str
    outcome: Outcome


_D, _C, _K, _F = Outcome.DECLINED, Outcome.CANCELLED_BY_CUSTOMER, Outcome.CARD_ERROR, Outcome.FAULT

# BMP 27 / 06 1E / 84 xx result codes (spec §10). 01..63 hex come from the host and mean "declined".
_RESULT_ROWS: dict[int, ResultCode] = {
    0x00: ResultCode("no error", Outcome.APPROVED),
    0x05: ResultCode("declined by the card issuer (do not honour)", _D),
    # Host codes are the decimal ISO 8583 response codes written as hex (0x33 = 51): [M] confidence.
    0x33: ResultCode("insufficient funds (host)", _D),
    0x36: ResultCode("expired card (host)", _D),
    0x3D: ResultCode("exceeds withdrawal limit (host)", _D),
    0x64: ResultCode("card not readable (LRC/parity error)", _K),
    0x65: ResultCode("card data not present", _K),
    0x66: ResultCode("processing error (also card reader mechanics)", _K),
    0x67: ResultCode("function not permitted for ec and Maestro cards", _D),
    0x68: ResultCode("function not permitted for credit and tank cards", _D),
    0x6A: ResultCode("turnover file full", _F),
    0x6B: ResultCode("function deactivated (PT not registered)", _F),
    0x6C: ResultCode("abort via timeout or abort key", _C),
    0x6E: ResultCode("card in blocked list", _D),
    0x6F: ResultCode("wrong currency", _F),
    0x71: ResultCode("credit not sufficient (chip card)", _D),
    0x72: ResultCode("chip error", _K),
    0x73: ResultCode("card data incorrect", _K),
    0x74: ResultCode("DUKPT engine exhausted", _F),
    0x75: ResultCode("text not authentic", _F),
    0x76: ResultCode("PAN not in white list", _D),
    0x77: ResultCode("end-of-day batch not possible", _F),
    0x78: ResultCode("card expired", _K),
    0x79: ResultCode("card not yet valid", _K),
    0x7A: ResultCode("card unknown", _K),
    0x7B: ResultCode("fallback to magnetic stripe for girocard not possible", _K),
    0x7C: ResultCode("fallback to magnetic stripe not possible", _K),
    0x7D: ResultCode("communication error (communication module)", _F),
    0x7E: ResultCode("fallback to magnetic stripe not possible, debit advice possible", _K),
    0x83: ResultCode("function not possible", _F),
    0x85: ResultCode("key missing", _F),
    0x89: ResultCode("PIN pad defective", _F),
    0x9A: ResultCode("ZVT protocol error", _F),
    0x9B: ResultCode("error from dial-up/communication fault", _F),
    0x9C: ResultCode("please wait", _F),
    0xA0: ResultCode("receiver not ready", _F),
    0xA1: ResultCode("remote station does not respond", _F),
    0xA3: ResultCode("no connection", _F),
    0xA4: ResultCode("submission of Geldkarte not possible", _F),
    0xA5: ResultCode("function not allowed due to PCI-DSS/P2PE rules", _F),
    0xB1: ResultCode("memory full", _F),
    0xB2: ResultCode("merchant journal full", _F),
    0xB4: ResultCode("already reversed", _F),
    0xB5: ResultCode("reversal not possible", _F),
    0xB7: ResultCode("pre-authorisation incorrect", _F),
    0xB8: ResultCode("error pre-authorisation", _F),
    0xBF: ResultCode("voltage supply too low", _F),
    0xC0: ResultCode("card locking mechanism defective", _F),
    0xC1: ResultCode("merchant card locked", _F),
    0xC2: ResultCode("diagnosis required", _F),
    0xC3: ResultCode("maximum amount exceeded", _D),
    0xC4: ResultCode("card profile invalid", _K),
    0xC5: ResultCode("payment method not supported", _D),
    0xC6: ResultCode("currency not applicable", _F),
    0xC8: ResultCode("amount too small", _D),
    0xC9: ResultCode("max. transaction amount too small", _D),
    0xCB: ResultCode("function only allowed in EURO", _F),
    0xCC: ResultCode("printer not ready", _F),
    0xCD: ResultCode("cashback not possible", _D),
    0xD2: ResultCode("function not permitted for service cards", _D),
    0xDC: ResultCode("card inserted", _K),
    0xDD: ResultCode("error during card eject", _K),
    0xDE: ResultCode("error during card insertion", _K),
    0xE0: ResultCode("remote maintenance activated", _F),
    0xE2: ResultCode("card reader does not answer / card reader defective", _F),
    0xE3: ResultCode("shutter closed", _F),
    0xE4: ResultCode("terminal activation required", _F),
    0xF0: ResultCode("open end-of-day batch present", _F),
    0xF1: ResultCode("ec-cash/Maestro offline error", _F),
    0xF5: ResultCode("OPT error", _F),
    0xF6: ResultCode("OPT data not available", _F),
    0xFA: ResultCode("error transmitting offline transactions", _F),
    0xFB: ResultCode("turnover data set defective", _F),
    0xFC: ResultCode("necessary device not present", _F),
    0xFD: ResultCode("baudrate not supported", _F),
    0xFE: ResultCode("register unknown", _F),
    0xFF: ResultCode("system error", _F),
}
RESULT_CODES: Final = MappingProxyType(_RESULT_ROWS)


def result_code(code: int) -> ResultCode:
    """The table row for a result code; host codes 01..63 not listed are 'declined by host'."""
    row = RESULT_CODES.get(code)
    if row is not None:
        return row
    if 0x01 <= code <= 0x63:
        return ResultCode(f"declined by the authorisation host (code {code})", Outcome.DECLINED)
    return ResultCode(f"unknown result code {code:02X}", Outcome.FAULT)


# Intermediate status (04 FF) codes -> short Russian text for the customer's screen (spec §3.7).
# 0x41..0x5D are the same messages with "please remove card" appended.
_STATUS_TEXTS_RU: dict[int, str] = {
    0x00: "Подтвердите сумму",
    0x01: "Введите ПИН-код на терминале",
    0x02: "Введите ПИН-код на терминале",
    0x03: "Операция не принята",
    0x04: "Связь с банком, подождите",
    0x05: "Отмена операции",
    0x06: "Подождите",
    0x07: "Карта не принимается",
    0x08: "Карта не распознана",
    0x09: "Срок действия карты истёк",
    0x0A: "Вставьте или приложите карту",
    0x0B: "Заберите карту",
    0x0C: "Карта не читается",
    0x0D: "Ошибка обработки",
    0x0E: "Подождите",
    0x0F: "Подождите",
    0x10: "Карта недействительна",
    0x11: "Подождите",
    0x12: "Сбой терминала",
    0x13: "Оплата невозможна",
    0x14: "Недостаточно средств",
    0x15: "Неверный ПИН-код",
    0x16: "Превышен лимит",
    0x17: "Подождите",
    0x18: "Превышено число попыток ввода ПИН-кода",
    0x19: "Ошибка данных карты",
    0x1A: "Терминал в сервисном режиме",
    0x1B: "Оплата одобрена",
    0x1C: "Оплата одобрена",
    0x1D: "Оплата отклонена",
    0x68: "Карта вставлена",
    0xD2: "Связь с банком, подождите",
    0xD3: "Связь с банком, подождите",
    0xF1: "Подождите",
    0xF2: "Связь с банком, подождите",
    0xF3: "Подождите",
}
STATUS_TEXTS_RU: Final = MappingProxyType(_STATUS_TEXTS_RU)

# Display texts some terminals send with status FF (TLV 24/07), mostly German: matched case-insensitively
# by prefix. Unknown texts are never shown raw to the customer.
_DISPLAY_TEXTS_RU: dict[str, str] = {
    "bitte warten": "Подождите",
    "karte einstecken": "Вставьте или приложите карту",
    "karte bitte": "Вставьте или приложите карту",
    "karte entnehmen": "Заберите карту",
    "bitte karte entnehmen": "Заберите карту",
    "pin eingeben": "Введите ПИН-код на терминале",
    "bitte pin eingeben": "Введите ПИН-код на терминале",
    "abgelehnt": "Оплата отклонена",
    "zahlung erfolgt": "Оплата одобрена",
    "abbruch": "Операция отменена",
    "please wait": "Подождите",
    "insert card": "Вставьте или приложите карту",
    "remove card": "Заберите карту",
    "enter pin": "Введите ПИН-код на терминале",
    "declined": "Оплата отклонена",
    "approved": "Оплата одобрена",
}
DISPLAY_TEXTS_RU: Final = MappingProxyType(_DISPLAY_TEXTS_RU)
FALLBACK_STATUS_TEXT_RU: Final = "Идёт оплата, следуйте указаниям терминала"


def status_text_ru(code: int, display_texts: tuple[str, ...] = ()) -> str:
    """The customer text for an intermediate status code (and the terminal's own display texts)."""
    for text in display_texts:
        key = text.strip().lower()
        for prefix, russian in DISPLAY_TEXTS_RU.items():
            if key.startswith(prefix):
                return russian
    if 0x41 <= code <= 0x5D:
        base = STATUS_TEXTS_RU.get(code - 0x40)
        return f"{base}. Заберите карту" if base and code != 0x4B else STATUS_TEXTS_RU[0x0B]
    return STATUS_TEXTS_RU.get(code, FALLBACK_STATUS_TEXT_RU)


# Terminal status byte in the Status-Enquiry completion (spec §2.56) -> (ready?, English reason).
_TERMINAL_STATUS: dict[int, tuple[bool, str]] = {
    0x00: (True, "PT ready"),
    0x51: (False, "initialisation required"),
    0x62: (False, "date/time incorrect"),
    0x9C: (False, "please wait (e.g. software update)"),
    0x9D: (False, "partial issue of goods"),
    0xB1: (False, "memory full"),
    0xB2: (False, "merchant journal full"),
    0xBF: (False, "voltage supply too low"),
    0xC0: (False, "card locking mechanism defective"),
    0xC1: (False, "merchant card locked"),
    0xC2: (False, "diagnosis required"),
    0xC4: (False, "card profile invalid"),
    0xCC: (False, "printer not ready"),
    0xDC: (False, "card inserted"),
    0xDF: (False, "out of order"),
    0xE0: (False, "remote maintenance activated"),
    0xE1: (False, "card not completely removed"),
    0xE2: (False, "card reader defective"),
    0xE3: (False, "shutter closed"),
    0xE4: (False, "terminal activation required"),
    0xF0: (False, "reconciliation required"),
    0xF6: (False, "OPT data not available"),
}
TERMINAL_STATUS: Final = MappingProxyType(_TERMINAL_STATUS)


def terminal_status(code: int) -> tuple[bool, str]:
    """(ready, reason) for a terminal status byte; unknown codes count as not ready."""
    return TERMINAL_STATUS.get(code, (False, f"unknown terminal status {code:02X}"))


# The same status bytes for the technician's screen and the journal (Russian, as the kiosk speaks).
_TERMINAL_STATUS_RU: dict[int, str] = {
    0x00: "терминал готов",
    0x51: "нужна инициализация терминала",
    0x62: "на терминале неверные дата и время",
    0x9C: "терминал занят (например, обновляет ПО)",
    0x9D: "частичная выдача товара",
    0xB1: "память терминала заполнена",
    0xB2: "журнал терминала заполнен",
    0xBF: "низкое напряжение питания",
    0xC0: "неисправен фиксатор карты",
    0xC1: "карта продавца заблокирована",
    0xC2: "нужна диагностика терминала",
    0xC4: "неверный профиль карт",
    0xCC: "принтер терминала не готов",
    0xDC: "в терминале карта",
    0xDF: "терминал не работает",
    0xE0: "идёт удалённое обслуживание",
    0xE1: "карта извлечена не полностью",
    0xE2: "неисправен картридер терминала",
    0xE3: "шторка картридера закрыта",
    0xE4: "нужна активация терминала",
    0xF0: "нужна сверка итогов",
    0xF6: "нет данных OPT",
}
TERMINAL_STATUS_RU: Final = MappingProxyType(_TERMINAL_STATUS_RU)


def terminal_status_ru(code: int) -> str:
    """The Russian reason for a terminal status byte (unknown codes named by their hex value)."""
    return TERMINAL_STATUS_RU.get(code, f"неизвестное состояние терминала {code:02X}")


# ZVT card type IDs (BMP 8A). Only what a Russian kiosk is likely to see plus the common ones.
_CARD_TYPES: dict[int, str] = {
    0x02: "ec-card",
    0x05: "girocard",
    0x06: "Mastercard",
    0x08: "American Express",
    0x0A: "VISA",
    0x0C: "Diners",
    0x0D: "V PAY",
    0x0E: "JCB",
    0x2E: "Maestro",
}
CARD_TYPES: Final = MappingProxyType(_CARD_TYPES)

# Order of the seven individual-totals groups in BMP 60 after End-of-Day (spec §3.1).
TOTALS_GROUPS: Final = ("girocard", "JCB", "Eurocard", "American Express", "VISA", "Diners", "others")
