"""Documents the kiosk prints, built as layout from plain data (no printer library here).

Each builder takes an explicit input dataclass (``PolicyPrintData``, ``LetterPrintData``...) and
returns a ``drivers.printer.layout.Document``; the printer driver renders it for its paper. Wording
that rests on low-confidence facts is data in ``templates/*.toml``.
"""

from kiosk.documents.common import InsurerInfo
from kiosk.documents.letter import LetterPrintData, OfficeInfo, letter_document
from kiosk.documents.memo import MemoPrintData, memo_document
from kiosk.documents.policy import DriverPrint, PolicyPrintData, VehiclePrint, check_url, policy_document
from kiosk.documents.slip import slip_document
from kiosk.documents.testpage import TestPageData, testpage_document

__all__ = [
    "DriverPrint",
    "InsurerInfo",
    "LetterPrintData",
    "MemoPrintData",
    "OfficeInfo",
    "PolicyPrintData",
    "TestPageData",
    "VehiclePrint",
    "check_url",
    "letter_document",
    "memo_document",
    "policy_document",
    "slip_document",
    "testpage_document",
]
