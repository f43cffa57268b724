"""The Renderer front door: seeds, latents and recipes to images, as the reference quantises them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.gan.formats import load_network
from studio.gan.latents import zs_from_seeds
from studio.gan.recipe import Latent, ModelRef, Recipe, StyleMix
from studio.gan.render import Renderer, to_uint8
from studio.gan.render_settings import RenderSettings


@pytest.fixture(scope="module")
def renderer(tiny_model):
    return Renderer(load_network(tiny_model), device="cpu", batch_size=3)


def test_seeds_render_as_the_generator_does(renderer):
    settings = RenderSettings(truncation_psi=0.7)
    seeds = [0, 1, 2, 3, 9]
    got = dict(renderer.render_seeds(seeds, settings))
    with torch.inference_mode():
        want = to_uint8(renderer.G(torch.from_numpy(zs_from_seeds(seeds, renderer.G.z_dim)), None,
                                   truncation_psi=0.7, noise_mode="const"))
    assert list(got) == seeds
    for seed, image in zip(seeds, want):
        assert np.abs(got[seed].astype(int) - image.astype(int)).max() <= 1


def test_batches_do_not_change_images_and_progress_counts_them(renderer):
    steps = []
    settings = RenderSettings(noise_mode="random")
    one = dict(Renderer(renderer.network, device="cpu", batch_size=1).render_seeds([4, 5], settings))
    many = dict(renderer.render_seeds([4, 5], settings, progress=lambda done, total: steps.append((done, total))))
    assert all(np.abs(one[s].astype(int) - many[s].astype(int)).max() <= 1 for s in (4, 5))
    assert steps == [(2, 2)]
    assert renderer.noise_seeds([4, 5], settings) == [4, 5]
    assert renderer.noise_seeds([4, 5], RenderSettings(noise_mode="random", noise_seed=7)) == [7, 7]
    assert renderer.noise_seeds([4, 5], RenderSettings()) is None


def test_cancel_stops_between_batches(renderer):
    asked = []

    def cancel() -> bool:
        asked.append(True)
        return len(asked) > 1

    assert [seed for seed, _ in renderer.render_seeds(range(9), RenderSettings(), should_cancel=cancel)] == [0, 1, 2]


@pytest.mark.parametrize("noise_mode", ["const", "random"])
def test_a_recipe_recreates_its_image(renderer, noise_mode):
    settings = RenderSettings(truncation_psi=0.6, noise_mode=noise_mode)
    image = dict(renderer.render_seeds([12], settings))[12]
    recipe = renderer.recipe(settings, seed=12)
    assert np.abs(renderer.render_recipe(Recipe.from_json(recipe.to_json())).astype(int) - image.astype(int)).max() <= 1
    w = renderer.ws_from_seeds([12], settings)[0].numpy()
    explicit = renderer.recipe(RenderSettings(noise_mode=noise_mode, noise_seed=12), w=w)
    assert np.abs(renderer.render_recipe(explicit).astype(int) - image.astype(int)).max() <= 1


def test_a_mixed_recipe_takes_the_style_layers_from_its_source(renderer):
    settings = RenderSettings()
    recipe = renderer.recipe(settings, seed=3, mix=StyleMix(source=Latent(seed=8), layers=[0, 1, 2, 3]))
    ws = renderer.recipe_ws(recipe)
    form, style = renderer.ws_from_seeds([3], settings), renderer.ws_from_seeds([8], settings)
    assert torch.equal(ws[0, :4], style[0, :4]) and torch.equal(ws[0, 4:], form[0, 4:])


def test_a_recipe_of_another_model_is_refused_by_name(renderer):
    with pytest.raises(ValueError, match="made with 'elsewhere', not with the open model"):
        renderer.check_recipe(Recipe(model=ModelRef("0" * 64, "elsewhere", None), seed=1))
    renderer.check_recipe(renderer.recipe(RenderSettings(), seed=1))


@pytest.mark.parametrize("field, shape", [("z", [3]), ("z", [2, 64]), ("z", [0, 64]), ("w", [1, 99, 64]),
                                          ("w", [1, 2, 3, 4, 5]), ("w", [0, 64])])
def test_a_latent_that_does_not_fit_the_model_is_a_sentence(renderer, field, shape):
    """A damaged recipe's z or w (or another model's) says which shapes the model takes; it used to
    reach torch's reshape and come out as a RuntimeError traceback."""
    G = renderer.G
    shape = [G.z_dim if n == 64 and field == "z" else G.w_dim if n == 64 else n for n in shape]
    recipe = Recipe(model=renderer.model_ref, **{field: np.zeros(shape, np.float32)})
    with pytest.raises(ValueError, match=f"the recipe's {field} has the shape .* does not fit this model"):
        renderer.render_recipe(recipe)


def test_latents_of_every_shape_the_model_takes_render(renderer):
    G = renderer.G
    one = renderer.render_recipe(Recipe(model=renderer.model_ref, w=np.zeros([G.w_dim], np.float32)))
    for shape in ([1, G.w_dim], [renderer.num_ws, G.w_dim], [1, renderer.num_ws, G.w_dim]):
        again = renderer.render_recipe(Recipe(model=renderer.model_ref, w=np.zeros(shape, np.float32)))
        assert np.array_equal(one, again)
    assert renderer.render_recipe(Recipe(model=renderer.model_ref, z=np.zeros([1, G.z_dim], np.float32))).ndim == 3


def test_half_precision_for_the_high_resolutions_stays_within_a_few_levels(tiny_model):
    """NVIDIA's GPU setting (float16 in the four highest-resolution blocks), checked on the CPU."""
    import numpy as np

    from studio.gan.formats import load_network
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    full = Renderer(load_network(tiny_model), device="cpu")
    half = Renderer(load_network(tiny_model), device="cpu", precision="fp16")
    assert full.half_from is None and half.half_from == 8        # 4, [8, 16, 32, 64]: the top four blocks
    a = dict(full.render_seeds([1, 2], RenderSettings()))
    b = dict(half.render_seeds([1, 2], RenderSettings()))
    for seed in (1, 2):
        diff = np.abs(a[seed].astype(int) - b[seed].astype(int))
        assert diff.max() <= 4 and diff.mean() < 0.5
