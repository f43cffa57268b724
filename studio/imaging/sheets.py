"""Contact sheets: images in a grid, plain or labelled.

:func:`image_grid` lays out any number of images row by row (training previews, sample grids,
``studio generate``'s pages); :func:`labelled_sheet` is the style-mixing layout, the column
sources across the top, the row sources down the side and the mixes in between (an empty
corner), each source labelled, like the reference ``style_mixing.py`` grid and the figures of
GANscapes (forms F1..F7 across, styles S1..S3 down, thumbnails stretched to the paintings'
1.27:1).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def image_grid(images: Sequence[np.ndarray] | np.ndarray, cols: int | None = None, *,
               captions: Sequence[str] | None = None, caption_height: int = 16,
               background: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """uint8 images ``[H, W, C]`` (all one size) in a grid, row by row; ``cols`` defaults to a square.

    With ``captions`` each image gets a strip of ``caption_height`` px above it holding its text.
    """
    n = len(images)
    if n == 0:
        raise ValueError("a grid needs at least one image")
    h, w, c = np.asarray(images[0]).shape
    cols = cols or max(1, int(math.ceil(math.sqrt(n))))
    rows = (n + cols - 1) // cols
    top = caption_height if captions is not None else 0
    canvas = np.empty((rows * (h + top), cols * w, c), dtype=np.uint8)
    canvas[...] = np.asarray(background, dtype=np.uint8)[:c] if c != 1 else background[0]
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        y = r * (h + top) + top
        canvas[y:y + h, k * w:(k + 1) * w] = image
    sheet = Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)
    if captions is not None:
        draw = ImageDraw.Draw(sheet)
        ink = tuple(40 if sum(background) > 384 else 230 for _ in range(3))
        for i, text in enumerate(captions):
            r, k = divmod(i, cols)
            draw.text((k * w + 4, r * (h + top) + 2), text, fill=ink[0] if c == 1 else ink)
    return sheet


def _font(size: int):
    return ImageFont.load_default(size=size)


def _label(image: Image.Image, text: str) -> Image.Image:
    """Write ``text`` in a dark box in the image's top-left corner (a copy)."""
    image = image.convert("RGBA")
    size = max(10, image.height // 14)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad = max(2, size // 4)
    _, _, right, bottom = draw.textbbox((pad, pad), text, font=_font(size))
    draw.rectangle((0, 0, right + pad, bottom + pad), fill=(0, 0, 0, 150))
    draw.text((pad, pad), text, font=_font(size), fill=(255, 255, 255, 255))
    return Image.alpha_composite(image, overlay)


def labelled_sheet(
    col_sources: Sequence[np.ndarray],
    row_sources: Sequence[np.ndarray],
    cells: Mapping[tuple[int, int], np.ndarray],
    *,
    col_labels: Sequence[str],
    row_labels: Sequence[str],
    cell_size: tuple[int, int] | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Assemble a sheet from uint8 images [H, W, C]; ``cells[(row, col)]`` by position.

    ``cell_size`` (w, h) resizes every tile (Lanczos), e.g. to stretch square renders to 1.27:1.
    """
    first = next(iter(cells.values()))
    h, w = first.shape[:2]
    if cell_size is not None:
        w, h = cell_size
    mode = "RGBA" if first.shape[2] == 4 else "RGB"
    sheet = Image.new(mode, (w * (len(col_sources) + 1), h * (len(row_sources) + 1)), background)

    def tile(array: np.ndarray, text: str | None) -> Image.Image:
        img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.LANCZOS)
        if text:
            img = _label(img, text)
        return img.convert(mode)

    for c, (src, text) in enumerate(zip(col_sources, col_labels)):
        sheet.paste(tile(src, text), ((c + 1) * w, 0))
    for r, (src, text) in enumerate(zip(row_sources, row_labels)):
        sheet.paste(tile(src, text), (0, (r + 1) * h))
        for c in range(len(col_sources)):
            sheet.paste(tile(cells[r, c], None), ((c + 1) * w, (r + 1) * h))
    return sheet
