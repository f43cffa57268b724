"""RenderSettings: how latents become images, as plain data (no torch import).

The window's state objects, the CLI's options and recipes all speak it; only
:class:`studio.gan.render.Renderer` turns it into tensors.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderSettings:
    """How latents become images; everything a recipe records besides the latent itself."""

    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    class_index: int | None = None
    noise_mode: str = "const"
    noise_seed: int | None = None   # random noise: None = derive from each image's seed
    translate: tuple[float, float] = (0.0, 0.0)  # StyleGAN3's view: moved (input coordinates) ...
    rotate: float = 0.0                          # ... and turned (degrees); other networks ignore it
    edits: tuple = ()                            # recipe Edits applied to every latent's w (Explore's Edit box)
    tile: bool = False                           # render one period of a seamless texture (StyleGAN2)
    canvas: tuple | None = None                  # native canvas (width, height) in quarters of the square's side

    @property
    def moves_view(self) -> bool:
        return self.rotate != 0 or any(t != 0 for t in self.translate)


def canvas_units(ratio_text: str) -> tuple[int, int]:
    """'16:9', '1.27', '9:16' -> (width, height) quarters of the trained side: the long side grows, the
    short one stays the network's (4), rounded to the nearest quarter (16:9 -> 7:4 = 1.75)."""
    text = ratio_text.strip()
    try:
        if ":" in text:
            a, b = (float(v) for v in text.split(":", 1))
            ratio = a / b
        else:
            ratio = float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"a canvas is a ratio such as 16:9, 4:5 or 1.27, got {ratio_text!r}") from None
    if not 0.2 <= ratio <= 5:
        raise ValueError(f"a canvas ratio must be from 1:5 to 5:1, got {ratio_text!r}")
    if ratio >= 1:
        return max(4, round(4 * ratio)), 4
    return 4, max(4, round(4 / ratio))
