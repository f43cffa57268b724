"""Style-mix matrices and interpolations, shared by the window and the command line."""

from __future__ import annotations

import numpy as np
import pytest

from studio.app import interpolation
from studio.app.mixing import Source, mix_matrix
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings


@pytest.fixture(scope="module")
def renderer(tiny_model):
    return Renderer(load_network(tiny_model), device="cpu")


@pytest.mark.parametrize("noise_mode", ["const", "random"])
def test_every_cell_rerenders_exactly_from_its_recipe(renderer, noise_mode):
    settings = RenderSettings(truncation_psi=0.7, noise_mode=noise_mode)
    favourite = renderer.recipe(RenderSettings(truncation_psi=0.5), seed=11)
    items = list(mix_matrix(renderer, [Source(seed=3), Source(recipe=favourite)], [Source(seed=8)], [0, 1, 2, 3],
                            settings))
    assert [item.tag for item in items] == [("form", 0), ("form", 1), ("style", 0), ("cell", 0, 0), ("cell", 1, 0)]
    for item in items:
        assert np.abs(renderer.render_recipe(item.recipe).astype(int) - item.image.astype(int)).max() <= 1, item.tag
    assert items[3].recipe.seed == 3 and items[3].recipe.mix.layers == [0, 1, 2, 3]
    assert items[4].recipe.w is not None                      # the favourite keeps its own look


def test_an_empty_matrix_is_refused(renderer):
    with pytest.raises(ValueError, match="at least one form and one style"):
        list(mix_matrix(renderer, [], [Source(seed=1)], [0], RenderSettings()))


def test_interpolation_passes_through_its_keyframes(renderer, tmp_path):
    settings = RenderSettings()
    frames = list(interpolation.frames(renderer, [Source(seed=1), Source(seed=2)], 5, space="w", loop=False,
                                       settings=settings))
    assert len(frames) == 5
    first = dict(renderer.render_seeds([1], settings))[1]
    assert np.abs(frames[0].astype(int) - first.astype(int)).max() <= 1
    favourite = renderer.recipe(RenderSettings(), w=np.zeros((renderer.num_ws, renderer.G.w_dim), np.float32))
    with pytest.raises(ValueError, match="only be interpolated in W"):
        interpolation.keyframes(renderer, [Source(seed=1), Source(recipe=favourite)], "z", settings)
    count = interpolation.write(renderer, [Source(seed=1), Source(seed=2)], 4, tmp_path / "loop.gif", space="w",
                                loop=True, settings=settings, fps=10)
    assert count == 4 and (tmp_path / "loop.gif").stat().st_size > 0


def test_a_wide_seamless_matrix_keeps_its_canvas_in_every_recipe(renderer):
    settings = RenderSettings(canvas=(7, 4), tile=True)
    items = list(mix_matrix(renderer, [Source(seed=3)], [Source(seed=8)], [0, 1, 2, 3], settings))
    for item in items:
        assert item.image.shape == (64, 112, 3)
        assert item.recipe.canvas == [7, 4] and item.recipe.tile
        assert np.array_equal(renderer.render_recipe(item.recipe), item.image)
