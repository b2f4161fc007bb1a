"""The card reader's exception tree, rooted in ``IOError`` like pyserial's ``SerialException``."""

from __future__ import annotations

__all__ = [
    "CardCommunicationError",
    "CardReaderError",
    "CardRefusedError",
    "CardRemovedError",
    "NoCardError",
    "ReaderURLError",
    "ReaderUnavailableError",
]


class CardReaderError(IOError):
    """Anything that went wrong between the kiosk and a service card."""


class ReaderURLError(CardReaderError, ValueError):
    """A card reader URL that cannot be opened (unknown scheme, bad parameter)."""


class ReaderUnavailableError(CardReaderError):
    """The PC/SC service or the reader is not there (pcscd stopped, reader unplugged)."""


class NoCardError(CardReaderError):
    """No card in the reader that was asked."""


class CardRemovedError(NoCardError):
    """The card left the reader during the exchange."""


class CardCommunicationError(CardReaderError):
    """The card or the reader answered, but not in a way the exchange allows (transport fault, bad frame)."""


class CardRefusedError(CardReaderError):
    """The card answered a command with a status word other than success.

    ``sw`` is the status word (e.g. ``0x6A82``: our applet is not on this card).
    """

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(message)
        self.sw = sw
