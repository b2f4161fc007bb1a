"""A QR code as a Kivy texture: the ``qrcode`` package makes the matrix, one RGBA texel per module."""

from __future__ import annotations

import qrcode
from kivy.graphics.texture import Texture

__all__ = ["qr_texture"]


def qr_texture(data: str, border: int = 2) -> Texture:
    """A texture of the QR code for ``data`` (scale it up with nearest filtering)."""
    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    pixels = bytearray()
    # Kivy textures start at the bottom row.
    for row in reversed(matrix):
        for dark in row:
            pixels += b"\x00\x00\x00\xff" if dark else b"\xff\xff\xff\xff"
    texture = Texture.create(size=(size, size), colorfmt="rgba")
    texture.blit_buffer(bytes(pixels), colorfmt="rgba", bufferfmt="ubyte")
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    return texture
