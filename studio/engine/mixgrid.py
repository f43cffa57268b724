"""The labelled style-mixing sheet: column sources across the top, row sources down the side.

The layout is that of the reference ``style_mixing.py`` (an empty corner, the style images in
the first row, the form images in the first column, mixes in between), with each source
labelled by its seed so a printed sheet can be read on its own.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _label(image: Image.Image, text: str) -> Image.Image:
    """Write ``text`` in a dark box in the image's top-left corner (a copy)."""
    image = image.convert("RGBA")
    size = max(10, image.height // 14)
    font = ImageFont.load_default(size=size)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad = max(2, size // 4)
    left, top, right, bottom = draw.textbbox((pad, pad), text, font=font)
    draw.rectangle((0, 0, right + pad, bottom + pad), fill=(0, 0, 0, 150))
    draw.text((pad, pad), text, font=font, fill=(255, 255, 255, 255))
    return Image.alpha_composite(image, overlay)


def mixing_grid(
    rows: Sequence[int],
    cols: Sequence[int],
    sources: Mapping[int, np.ndarray],
    cells: Mapping[tuple[int, int], np.ndarray],
    *,
    labels: bool = True,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Assemble the sheet from uint8 images [H, W, C] (all the same size)."""
    first = next(iter(cells.values()))
    h, w = first.shape[:2]
    mode = "RGBA" if first.shape[2] == 4 else "RGB"
    sheet = Image.new(mode, (w * (len(cols) + 1), h * (len(rows) + 1)), background)

    def tile(array: np.ndarray, text: str | None) -> Image.Image:
        img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        if text and labels:
            img = _label(img, text)
        return img.convert(mode)

    for ci, col in enumerate(cols):
        sheet.paste(tile(sources[col], f"style {col}"), ((ci + 1) * w, 0))
    for ri, row in enumerate(rows):
        sheet.paste(tile(sources[row], f"form {row}"), (0, (ri + 1) * h))
        for ci, col in enumerate(cols):
            sheet.paste(tile(cells[row, col], None), ((ci + 1) * w, (ri + 1) * h))
    return sheet
