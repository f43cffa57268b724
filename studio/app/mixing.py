"""Style-mix matrices: forms x styles, the same for the Style Mix panel and ``studio mix``.

A *source* is a seed (rendered with the matrix's settings) or a recipe (a favourite or a cell
promoted to a source, keeping its own look: its ws become explicit). :func:`mix_matrix` streams
the sources and every cell with the recipe that re-creates it; with random noise each image's
noise comes from its form's seed, as the recipe says, so a starred cell re-renders exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterator, Mapping, Sequence

import numpy as np
import torch

from studio.core.atomic import atomic_path
from studio.gan.recipe import Latent, Recipe, StyleMix
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.sheets import labelled_sheet


@dataclass(frozen=True)
class Source:
    """A form or a style: a seed, or a recipe whose look it keeps."""

    seed: int | None = None
    recipe: Recipe | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Source:
        """``{"seed": n}`` or ``{"recipe": json}`` (what the window's panels hand over)."""
        if "seed" in spec:
            return cls(seed=int(spec["seed"]))
        return cls(recipe=Recipe.from_json(spec["recipe"]))


@dataclass
class MixImage:
    """One image of a matrix: ``tag`` is ("form", i), ("style", j) or ("cell", i, j)."""

    tag: tuple
    image: np.ndarray
    recipe: Recipe


def source_ws(renderer: Renderer, source: Source, settings: RenderSettings) -> tuple[torch.Tensor, Latent]:
    """A source's ws ``[1, num_ws, w_dim]`` and the latent that re-creates it under ``settings``."""
    if source.seed is not None:
        return renderer.ws_from_seeds([source.seed], settings), Latent(seed=source.seed)
    renderer.check_recipe(source.recipe)
    if source.recipe.regions is not None:
        raise ValueError("a panorama (several seeds on one canvas) cannot be a form or a style: pick one of its "
                         "seeds instead")
    ws = renderer.recipe_ws(source.recipe)
    return ws, Latent(w=ws[0].cpu().numpy())


def _latent_kwargs(latent: Latent) -> dict[str, Any]:
    return {"seed": latent.seed} if latent.seed is not None else {"w": latent.w}


def _noise_seeds(renderer: Renderer, latents: Sequence[Latent], settings: RenderSettings) -> list[int] | None:
    """Each image's noise seed as its recipe records it (an explicit w has none of its own: 0)."""
    return renderer.noise_seeds([latent.seed if latent.seed is not None else 0 for latent in latents], settings)


def mix_matrix(renderer: Renderer, forms: Sequence[Source], styles: Sequence[Source], layers: Sequence[int],
               settings: RenderSettings, *, skip: Collection[tuple] = (),
               progress: Callable[[int, int], None] | None = None,
               should_cancel: Callable[[], bool] | None = None) -> Iterator[MixImage]:
    """The forms (layout) x styles (the listed w layers) matrix: the sources first, then every cell,
    form-major, leaving out the tags in ``skip`` (images the caller already has: adding a form renders
    one new column, not the matrix). ``progress(done, total)`` counts the cells rendered."""
    if not forms or not styles:
        raise ValueError("a style mix needs at least one form and one style")
    form_res = [source_ws(renderer, source, settings) for source in forms]
    style_res = [source_ws(renderer, source, settings) for source in styles]
    form_ws = torch.cat([ws for ws, _ in form_res])
    style_ws = torch.cat([ws for ws, _ in style_res])
    for kind, resolved, ws_all in (("form", form_res, form_ws), ("style", style_res, style_ws)):
        todo = [i for i in range(len(resolved)) if (kind, i) not in skip]
        if not todo:
            continue
        noise = _noise_seeds(renderer, [resolved[i][1] for i in todo], settings)
        for i, image in zip(todo, renderer.synthesize(ws_all[todo], settings, noise)):
            if should_cancel is not None and should_cancel():
                return
            yield MixImage((kind, i), image, renderer.recipe(settings, **_latent_kwargs(resolved[i][1])))
    form_latents = [latent for _, latent in form_res]
    noise = _noise_seeds(renderer, [form_latents[f] for f in range(len(forms)) for _ in styles], settings)
    cells = [(f, s) for f in range(len(forms)) for s in range(len(styles)) if ("cell", f, s) not in skip]
    for f, s, image in renderer.render_mix_ws(form_ws, style_ws, list(layers), settings, noise_seeds=noise,
                                              cells=cells, progress=progress, should_cancel=should_cancel):
        mix = StyleMix(source=style_res[s][1], layers=list(layers))
        yield MixImage(("cell", f, s), image, renderer.recipe(settings, mix=mix, **_latent_kwargs(form_latents[f])))


def write_sheet(path: str, across: Sequence[np.ndarray], down: Sequence[np.ndarray],
                cells: Mapping[tuple[int, int], np.ndarray], *, across_labels: Sequence[str],
                down_labels: Sequence[str], cell_size: tuple[int, int] | None = None) -> str:
    """The labelled sheet of a matrix as a PNG, written atomically; ``cells[(down, across)]``."""
    sheet = labelled_sheet(across, down, cells, col_labels=across_labels, row_labels=down_labels,
                           cell_size=cell_size)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path
