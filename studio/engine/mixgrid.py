"""Style mixing layouts: layer presets and labelled sheets of a mixing matrix.

A sheet has the column sources across the top, the row sources down the side and the mixes in
between (an empty corner), each source labelled, like the reference ``style_mixing.py`` grid
and the figures of GANscapes (forms F1..F7 across, styles S1..S3 down, thumbnails stretched to
the paintings' 1.27:1).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# StyleGAN's convention: w layers 2k and 2k+1 act at 4 * 2**k px. Coarse = 4-8 px (pose, layout),
# middle = 16-32 px (features), fine = 64 px and up (colour scheme, texture).
PRESET_RESOLUTIONS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}
DEFAULT_LAYERS = range(0, 7)  # style_mixing.py's default col_styles 0-6


def layer_resolution(index: int) -> int:
    return 4 * 2 ** (index // 2)


def preset_layers(name: str, num_ws: int) -> list[int]:
    """The w indices of a preset ('coarse', 'middle', 'fine', 'default') for a model with ``num_ws``."""
    if name == "default":
        return [i for i in DEFAULT_LAYERS if i < num_ws]
    low, high = PRESET_RESOLUTIONS[name]
    return [i for i in range(num_ws) if low <= layer_resolution(i) <= high]


def describe_layers(layers: Sequence[int]) -> str:
    """'0-3', '0-3, 8' ... for labels."""
    layers = sorted(set(layers))
    runs, start = [], None
    for i, v in enumerate(layers):
        if start is None:
            start = v
        if i + 1 == len(layers) or layers[i + 1] != v + 1:
            runs.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return ", ".join(runs) if runs else "none"


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


def mixing_grid(
    rows: Sequence[int],
    cols: Sequence[int],
    sources: Mapping[int, np.ndarray],
    cells: Mapping[tuple[int, int], np.ndarray],
) -> Image.Image:
    """The CLI's grid.png: row seeds give the form, column seeds the styles (style_mixing.py)."""
    return labelled_sheet(
        [sources[c] for c in cols], [sources[r] for r in rows],
        {(ri, ci): cells[r, c] for ri, r in enumerate(rows) for ci, c in enumerate(cols)},
        col_labels=[f"style {c}" for c in cols], row_labels=[f"form {r}" for r in rows],
    )
