"""Print export: previews and batches of prints re-rendered from their recipes.

The window's Export panel and ``studio export`` share :mod:`studio.imaging.export` for one
print; a batch (the panel's selection) goes through :func:`export_prints`, which re-renders
each recipe at full quality when its turn comes and names the files with the one vocabulary of
:func:`studio.imaging.export.file_name` (``{model}``, ``{latent}``, ``{seed}``, ``{index}``,
``{name}``, ``{ext}``).
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from studio.gan.recipe import Recipe
from studio.gan.render import Renderer
from studio.imaging.export import DEFAULT_NAME_PATTERN, ExportReport, ExportSettings, export_batch
from studio.imaging.postprocess import PostProcess, apply


def preview(renderer: Renderer, recipe: Recipe, passes: Sequence[PostProcess],
            should_cancel: Callable[[], bool] | None = None) -> Iterator[tuple[str, np.ndarray, list[str]]]:
    """The before / after of a print: yields ("before", render, []) then ("after", image, notes)."""
    renderer.check_recipe(recipe)
    image = renderer.render_recipe(recipe)
    yield "before", image, []
    if should_cancel is not None and should_cancel():
        return
    notes: list[str] = []
    for step in passes:
        result = apply(image, step)
        image = result.image
        notes += result.notes
    yield "after", image, notes


def export_prints(renderer: Renderer, recipes: Sequence[Recipe], folder: str, *, passes: Sequence[PostProcess],
                  settings: ExportSettings, name_pattern: str = DEFAULT_NAME_PATTERN,
                  progress: Callable[[int, int], None] | None = None,
                  should_cancel: Callable[[], bool] | None = None) -> list[ExportReport]:
    """Re-render each recipe with the open model, post-process it and write it into ``folder``."""
    for recipe in recipes:
        renderer.check_recipe(recipe)
    items = [(renderer.network.name, (lambda r=recipe: renderer.render_recipe(r)), recipe) for recipe in recipes]
    return export_batch(items, folder, name_pattern=name_pattern, post=list(passes), export=settings,
                        progress=progress, should_cancel=should_cancel)
