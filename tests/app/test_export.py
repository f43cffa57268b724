"""Batches of prints: re-rendered from their recipes, named with one vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from studio.app.export import export_prints, preview
from studio.gan.formats import load_network
from studio.gan.recipe import ModelRef, Recipe
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.codecs import read_image
from studio.imaging.export import ExportSettings
from studio.imaging.metadata import read_recipe
from studio.imaging.postprocess import PostProcess


@pytest.fixture(scope="module")
def renderer(tiny_model):
    return Renderer(load_network(tiny_model), device="cpu")


def test_prints_are_rerendered_named_and_carry_their_recipe(renderer, tmp_path):
    recipes = [renderer.recipe(RenderSettings(truncation_psi=0.7), seed=seed) for seed in (3, 12)]
    steps: list[tuple[int, int]] = []
    reports = export_prints(renderer, recipes, str(tmp_path), passes=[PostProcess(long_side=96)],
                            settings=ExportSettings(format="png"),
                            progress=lambda done, total: steps.append((done, total)))
    assert [r.path.name for r in reports] == ["tiny-seed0003.png", "tiny-seed0012.png"]
    assert steps == [(1, 2), (2, 2)]
    assert read_image(reports[0].path).shape[:2] == (96, 96)
    again = read_recipe(reports[1].path)
    assert again.seed == 12 and again.truncation_psi == 0.7
    assert PostProcess.from_dict(again.postprocess) == PostProcess(long_side=96)
    taken = export_prints(renderer, recipes[:1], str(tmp_path), passes=[], settings=ExportSettings())
    assert taken[0].path.name == "tiny-seed0003 (2).png"                 # never overwritten


def test_a_recipe_of_another_model_is_refused_before_anything_is_written(renderer, tmp_path):
    stranger = Recipe(model=ModelRef("f" * 64, "other", None), seed=1)
    with pytest.raises(ValueError, match="'other'"):
        export_prints(renderer, [renderer.recipe(RenderSettings(), seed=1), stranger], str(tmp_path),
                      passes=[], settings=ExportSettings())
    assert list(tmp_path.iterdir()) == []


def test_preview_is_the_render_then_the_print(renderer):
    recipe = renderer.recipe(RenderSettings(), seed=5)
    stages = list(preview(renderer, recipe, [PostProcess(long_side=32)]))
    assert [tag for tag, _, _ in stages] == ["before", "after"]
    before, after = stages[0][1], stages[1][1]
    assert before.shape[:2] == (64, 64) and after.shape[:2] == (32, 32)
    assert np.array_equal(before, renderer.render_recipe(recipe))
