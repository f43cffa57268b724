"""Many latents on one canvas (a panorama, a triptych) for both front ends: region maps from layouts
or painted masks, the canvas they suggest, and the recipe that renders them (the network side is
:meth:`studio.gan.render.Renderer.synthesize_regions`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from studio.core.errors import StudioError
from studio.gan.recipe import Latent, Recipe, Regions
from studio.gan.region_maps import labels_from_image, layout_labels, suggested_canvas, used_regions
from studio.gan.render_settings import RenderSettings

DEFAULT_FEATHER = 0.1
MAX_MASK_PIXELS = 64_000_000      # a painted mask is read whole: bounded before it is decoded


def region_map(layout: str, count: int) -> list[str]:
    """A named layout (columns, rows, grid, gridRxC) or a painted mask image's path, as a region map."""
    path = Path(layout).expanduser()
    if path.suffix and (path.exists() or "/" in layout or "\\" in layout):
        return read_mask(path)
    return layout_labels(layout, count)


def read_mask(path: Path) -> list[str]:
    """A painted mask (one flat colour per region) as a region map; a file that is not an image, or
    that declares more pixels than a mask needs, is refused with a reason."""
    from PIL import Image

    from studio.imaging.codecs import read_image

    try:
        with Image.open(path) as probe:
            width, height = probe.size
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise StudioError(f"{path.name} is not a mask image the studio can read ({exc})") from None
    if width * height > MAX_MASK_PIXELS:
        raise StudioError(f"{path.name} is {width:,} x {height:,} px; a mask needs far fewer pixels "
                          f"(at most {MAX_MASK_PIXELS:,})")
    try:
        pixels = read_image(path)
    except (OSError, ValueError) as exc:
        raise StudioError(f"{path.name} is not a mask image the studio can read ({exc})") from None
    try:
        return labels_from_image(pixels)
    except ValueError as exc:
        raise StudioError(f"{path.name}: {exc}") from None


def default_blend(resolutions: Sequence[int]) -> int:
    """Where the regions meet unless the artist says: a third of the way up the blocks (16 px on a
    128 or 256 px network), so each region keeps its own layout and the seams share shapes and colours."""
    resolutions = list(resolutions)
    return resolutions[min(len(resolutions) - 1, max(1, len(resolutions) // 3))] if resolutions else 16


def panorama_recipe(renderer, settings: RenderSettings, latents: Sequence[Latent], labels: Sequence[str], *,
                    blend: int, feather: float = DEFAULT_FEATHER) -> Recipe:
    """The recipe of one canvas shared by ``latents`` (the first is the recipe's own) as ``labels``
    paints it; refuses, in one sentence, what the open network cannot draw."""
    if len(latents) < 2:
        raise StudioError("a panorama needs two or more latents (seeds)")
    need = used_regions(labels)
    if need > len(latents):
        raise StudioError(f"the layout has {need} regions but {len(latents)} seeds were given")
    try:
        regions = Regions(list(labels), list(latents[1:]), blend, feather)
        renderer.check_canvas(settings, regions)
    except ValueError as exc:
        raise StudioError(str(exc)) from None
    if blend not in renderer.blend_resolutions:
        raise StudioError(f"blend at one of {', '.join(str(r) for r in renderer.blend_resolutions)} px for "
                          f"{renderer.network.name}, not {blend}")
    first = latents[0]
    recipe = renderer.recipe(settings, seed=first.seed, z=first.z, w=first.w)
    return replace(recipe, regions=regions)


__all__ = ["region_map", "read_mask", "suggested_canvas", "default_blend", "panorama_recipe", "DEFAULT_FEATHER"]
