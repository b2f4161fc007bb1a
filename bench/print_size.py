"""Bytes per document: as the kiosk sends it (text mode, native QR) versus the same page as a raster image.

    .venv/bin/python bench/print_size.py [--profile epson-80]

The raster version draws the composed lines (same wrapping) with a monospaced Cyrillic font and the QR
with the qrcode library, then sends the page through python-escpos ``image()`` (GS v 0), the way a
driver that "prints everything as a picture" would. Targets: policy + memo <= 4 KB natively, and at
least 10x smaller than raster.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import qrcode
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.printer.compose import Code, Line, columns_for, compose
from drivers.printer.formatter import escpos_profile, render
from drivers.printer.layout import QR, Align, Document, Feed
from drivers.printer.profiles import PrinterProfile, available_profiles, load_profile
from kiosk.documents.samples import SAMPLE_KINDS, sample_document

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
LINE_HEIGHT = 30  # dots: 24-dot font A plus the default line spacing


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default()


def raster_page(document: Document, profile: PrinterProfile) -> Image.Image:
    """The document drawn as one black-and-white image of the paper width."""
    blocks: list[tuple[str, object]] = []
    height = 0
    for op in compose(document, profile):
        if isinstance(op, Line):
            blocks.append(("line", op))
            height += LINE_HEIGHT * (2 if op.large else 1)
        elif isinstance(op, Code) and isinstance(op.block, QR):
            qr = qrcode.QRCode(border=1, box_size=op.module, error_correction=qrcode.constants.ERROR_CORRECT_M)
            qr.add_data(op.block.data)
            image = qr.make_image().get_image().convert("1")
            blocks.append(("image", image))
            height += image.size[1]
        elif isinstance(op, Code):
            blocks.append(("barcode", None))
            height += 64 + LINE_HEIGHT
        elif isinstance(op, Feed):
            height += LINE_HEIGHT * op.lines
    page = Image.new("1", (profile.width_dots, height), 1)
    draw = ImageDraw.Draw(page)
    y = 0
    for kind, item in blocks:
        if kind == "line" and isinstance(item, Line):
            cell = profile.width_dots // columns_for(item, profile)
            font = _font(FONT_BOLD if item.bold else FONT, int(cell * 1.6))
            x = 0
            if item.align is Align.CENTER:
                x = (profile.width_dots - cell * len(item.text)) // 2
            draw.text((x, y), item.text, font=font, fill=0)
            y += LINE_HEIGHT * (2 if item.large else 1)
        elif kind == "image" and isinstance(item, Image.Image):
            page.paste(item, ((profile.width_dots - item.size[0]) // 2, y))
            y += item.size[1]
        else:
            draw.rectangle((profile.width_dots // 4, y, profile.width_dots * 3 // 4, y + 64), fill=0)
            y += 64 + LINE_HEIGHT
    return page


def raster_bytes(document: Document, profile: PrinterProfile) -> bytes:
    """The page sent as GS v 0 raster through python-escpos, with the same reset and cut."""
    printer = Dummy(profile=escpos_profile(profile))
    printer.hw("INIT")
    printer.image(raster_page(document, profile), impl="bitImageRaster")
    printer.cut()
    data: bytes = printer.output
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="profile(s) to measure (default: all)")
    args = parser.parse_args()
    ok = True
    for name in args.profile or available_profiles():
        profile = load_profile(name)
        print(f"\n{name}: {profile.description}, {profile.width_dots} dots, {profile.columns} columns")
        print(f"  {'document':<8} {'native B':>9} {'raster B':>9} {'ratio':>7} {'render ms':>9}")
        sizes: dict[str, tuple[int, int]] = {}
        for kind in SAMPLE_KINDS:
            document = sample_document(kind, profile)
            started = time.perf_counter()
            native = len(render(document, profile))
            elapsed = (time.perf_counter() - started) * 1000
            raster = len(raster_bytes(document, profile))
            sizes[kind] = (native, raster)
            print(f"  {kind:<8} {native:>9} {raster:>9} {raster / native:>6.1f}x {elapsed:>9.1f}")
        native = sizes["policy"][0] + sizes["memo"][0]
        raster = sizes["policy"][1] + sizes["memo"][1]
        fits, smaller = native <= 4096, raster >= 10 * native
        ok &= fits and smaller
        verdict = ("ok" if fits else "MISSED", "ok" if smaller else "MISSED")
        print(
            f"  policy+memo: {native} B native (target <= 4096: {verdict[0]}), {raster} B raster, "
            f"{raster / native:.1f}x smaller (target >= 10x: {verdict[1]})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
