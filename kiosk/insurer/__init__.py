"""The insurer gateway port and its simulator."""

from kiosk.insurer.port import (
    ApplicationReceipt,
    GatewayError,
    GatewayRejectedError,
    GatewayUnavailableError,
    InsurerGateway,
    KbmAnswer,
    KbmQuery,
    PolicyContract,
    RegisteredPolicy,
)

__all__ = [
    "ApplicationReceipt",
    "GatewayError",
    "GatewayRejectedError",
    "GatewayUnavailableError",
    "InsurerGateway",
    "KbmAnswer",
    "KbmQuery",
    "PolicyContract",
    "RegisteredPolicy",
]
