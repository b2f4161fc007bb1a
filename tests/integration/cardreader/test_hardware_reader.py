"""A real reader and a real service card: ``pytest --device-url 'pcsc://?reader=ACS' -m hardware``.

Insert a provisioned service card within 60 s of the start. With ``OSAGO_KIOSK_CONFIG`` set, the
card's answer is also verified against that configuration's master key.
"""

from __future__ import annotations

import os
import queue
import secrets

import pytest

from drivers.cardreader import CardEvent, CardEventKind, card_mac, open_reader, parse_url

pytestmark = [pytest.mark.hardware, pytest.mark.serial_only, pytest.mark.timeout(120)]


def test_a_real_card_in_a_real_reader_answers_the_challenge(device_url: str | None) -> None:
    if device_url is None or parse_url(device_url).scheme != "pcsc":
        pytest.skip("give --device-url pcsc://... to run against a real card reader")
    reader = open_reader(device_url)
    events: queue.Queue[CardEvent] = queue.Queue()
    reader.start(events.put)
    try:
        print(f"\ninsert a service card into {device_url} ...")
        event = events.get(timeout=60)
        while event.kind is not CardEventKind.INSERTED:
            event = events.get(timeout=60)
        challenge = secrets.token_bytes(16)
        answer = reader.query_card(challenge, event.reader)
        status = reader.status()
    finally:
        reader.stop()

    assert status.ok and event.reader in status.readers
    assert len(answer.response) == 32
    if os.environ.get("OSAGO_KIOSK_CONFIG"):
        from kiosk.config import load_settings
        from kiosk.service_access import derive_card_key, load_master_key

        settings = load_settings()
        master = load_master_key(settings.path(settings.service_card.master_key_file))
        expected = card_mac(derive_card_key(master, answer.card_id), answer.card_id, challenge)
        assert answer.response == expected, "the card is not keyed from this kiosk's master key"
