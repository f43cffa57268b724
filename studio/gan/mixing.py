"""Style mixing: which w layers a preset means for a given network, and how to name a range.

The mixing itself is :func:`studio.gan.latents.mix_styles`; the labelled sheet of a mixing
matrix is :func:`studio.imaging.sheets.labelled_sheet`.
"""

from __future__ import annotations

from typing import Any, Sequence

# What each w layer draws is told by the scale it works at, in pixels: StyleGAN2's w layers 2k and
# 2k+1 act at 4 * 2**k px; a StyleGAN3 layer at twice its cutoff frequency (cycles per image), and
# its w 0 places the Fourier input (position and rotation). Coarse = up to 8 px (layout, pose),
# middle = 16-32 px (shapes, features), fine = 64 px and up (colour scheme, texture).
PRESET_SCALES = {"coarse": (0.0, 12.0), "middle": (12.0, 48.0), "fine": (48.0, float("inf"))}
DEFAULT_LAYERS = range(0, 7)  # style_mixing.py's default col_styles 0-6
POSITION_LAYERS = [0]         # StyleGAN3: the input's translation and rotation
#: the words the CLI and the window use for the presets, by what the layers draw
PRESET_NAMES = {"layout": "coarse", "coarse": "coarse", "shapes": "middle", "middle": "middle", "texture": "fine",
                "colour": "fine", "color": "fine", "fine": "fine", "position": "position", "default": "default"}


def layer_resolution(index: int) -> int:
    return 4 * 2 ** (index // 2)


def layer_scales(G: Any) -> list[float]:
    """The scale (px) each w layer of generator ``G`` works at (see the module's note)."""
    synthesis = G.synthesis
    geometry = getattr(synthesis, "geometry", None)
    if geometry is None:
        return [float(layer_resolution(i)) for i in range(G.num_ws)]
    return [2 * geometry["input"]["bandwidth"]] + [2 * layer["out_cutoff"] for layer in geometry["layers"]]


def preset_layers(name: str, num_ws: int, scales: Sequence[float] | None = None) -> list[int]:
    """The w indices of a preset ('coarse', 'middle', 'fine', 'default', 'position') for a model with
    ``num_ws`` layers working at ``scales`` (px; default: StyleGAN2's)."""
    if name == "default":
        return [i for i in DEFAULT_LAYERS if i < num_ws]
    if name == "position":
        return [i for i in POSITION_LAYERS if i < num_ws]
    scales = list(scales) if scales is not None else [layer_resolution(i) for i in range(num_ws)]
    low, high = PRESET_SCALES[name]
    return [i for i in range(num_ws) if low <= scales[i] < high]


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



