"""Style mixing: which w layers a preset means for a given network, and how to name a range.

The mixing itself is :func:`studio.gan.latents.mix_styles`; the labelled sheet of a mixing
matrix is :func:`studio.imaging.sheets.labelled_sheet`.
"""

from __future__ import annotations

from typing import Sequence

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



