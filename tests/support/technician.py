"""The tests' technician: one service card id, one PIN and its hash, shared by unit, integration and e2e tests."""

from __future__ import annotations

from kiosk.service_access import PinHash

__all__ = ["CARD_ID", "PIN", "PIN_HASH"]

CARD_ID = "TECH-0042"
PIN = "4826"
# Cheap scrypt parameters keep tests (five wrong PINs, many logins) fast; production hashes use log2 N = 14.
PIN_HASH = PinHash.create(PIN, log2_n=10)
