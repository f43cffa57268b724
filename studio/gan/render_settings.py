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

    @property
    def moves_view(self) -> bool:
        return self.rotate != 0 or any(t != 0 for t in self.translate)
