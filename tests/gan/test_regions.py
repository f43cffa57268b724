"""Many latents on one canvas: region maps, soft masks, feature-space blending and their recipes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from studio.app import panorama
from studio.cli import main
from studio.core.errors import StudioError
from studio.gan.formats import load_network
from studio.gan.recipe import Latent, Recipe, Regions
from studio.gan.region_maps import labels_from_image, layout_labels
from studio.gan.regions import soft_masks
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.metadata import read_recipe


def test_layouts_name_their_region_maps():
    assert layout_labels("columns", 3) == ["012"]
    assert layout_labels("rows", 2) == ["0", "1"]
    assert layout_labels("grid", 4) == ["01", "23"]
    assert layout_labels("grid", 3) == ["01", "20"]           # as square as they go; latents repeat
    assert layout_labels("grid2x3", 6) == ["012", "345"]
    for bad in ("diagonal", "grid0x3"):
        with pytest.raises(ValueError):
            layout_labels(bad, 3)


def test_a_painted_mask_numbers_its_colours_in_reading_order():
    mask = np.zeros((40, 80, 3), np.uint8)
    mask[:, :40] = (255, 0, 0)
    mask[:, 40:] = (0, 0, 255)
    mask[30:, 60:] = (0, 255, 0)
    labels = labels_from_image(mask, cells=8)
    assert labels[0] == "00001111" and labels[-1] == "00001122" and len(labels) == 4
    many = np.arange(100, dtype=np.uint8).reshape(10, 10)
    with pytest.raises(ValueError, match="colours"):
        labels_from_image(many)


def test_soft_masks_sum_to_one_and_feather_only_near_the_seams():
    hard = soft_masks(["01"], 2, 32, 64, 0.0)
    assert torch.equal(hard[0, 0, :, :32], torch.ones(32, 32)) and hard[0, 0, :, 32:].max() == 0
    soft = soft_masks(["01"], 2, 32, 64, 0.1)
    assert torch.allclose(soft.sum(0), torch.ones(1, 32, 64))
    assert soft[0, 0, :, 0].min() > 0.999 and 0.3 < soft[0, 0, 0, 31] < 0.7   # pure far away, mixed at the seam
    wrapped = soft_masks(["01"], 2, 32, 64, 0.1, wrap=True)
    assert 0.3 < wrapped[0, 0, 0, 0] < 0.7                                   # a tile's map meets across its edge


def _with_regions(recipe: Recipe, labels, seeds, blend=16, feather=0.1) -> Recipe:
    return replace(recipe, regions=Regions(labels, [Latent(seed=s) for s in seeds], blend, feather))


@pytest.mark.parametrize("blend", [4, 16, 64])
def test_a_region_keeps_its_own_picture_and_one_latent_everywhere_is_the_plain_render(tiny_model, blend):
    renderer = Renderer(load_network(tiny_model), device="cpu")
    settings = RenderSettings(canvas=(8, 4))
    plain = renderer.render_recipe(renderer.recipe(settings, seed=3)).astype(int)
    same = renderer.render_recipe(_with_regions(renderer.recipe(settings, seed=3), ["01"], [3], blend))
    assert np.abs(same - plain).max() <= 1                          # K copies of one w: the plain picture
    only_first = renderer.render_recipe(_with_regions(renderer.recipe(settings, seed=3), ["00"], [9], blend))
    assert np.abs(only_first - plain).max() <= 1
    pano = renderer.render_recipe(_with_regions(renderer.recipe(settings, seed=3), ["01"], [9], blend)).astype(int)
    right = renderer.render_recipe(renderer.recipe(settings, seed=9)).astype(int)
    assert pano.shape == (64, 128, 3)
    assert np.abs(pano[:, :16] - plain[:, :16]).mean() < 2 and np.abs(pano[:, -16:] - right[:, -16:]).mean() < 2
    assert np.abs(pano[:, 56:72] - plain[:, 56:72]).mean() > 2      # the middle is neither alone


def test_regions_with_random_noise_and_swagan_render_deterministically(tiny_model, tiny_swagan_model):
    for path in (tiny_model, tiny_swagan_model):
        renderer = Renderer(load_network(path), device="cpu")
        recipe = _with_regions(renderer.recipe(RenderSettings(noise_mode="random", canvas=(6, 4)), seed=2),
                               ["01", "10"], [5], blend=8)
        a, b = renderer.render_recipe(recipe), renderer.render_recipe(recipe)
        assert a.shape == (64, 96, 3) and np.array_equal(a, b)


def test_panorama_cli_writes_a_recipe_that_recreates_it(tiny_model, tmp_path, capsys):
    out = tmp_path / "pano.png"
    assert main(["panorama", "--network", str(tiny_model), "--seeds", "3,7,12", "--out", str(out)]) == 0
    image = np.asarray(Image.open(out))
    assert image.shape == (64, 192, 3)                               # three columns: a 3:1 canvas by default
    recipe = read_recipe(out)
    assert recipe.seed == 3 and recipe.regions.labels == ["012"] and recipe.canvas == [12, 4]
    assert [v.seed for v in recipe.regions.latents] == [7, 12]
    assert Recipe.from_json(recipe.to_json()) == recipe
    assert np.array_equal(Renderer(load_network(tiny_model), device="cpu").render_recipe(recipe), image)
    mask = tmp_path / "mask.png"
    pixels = np.zeros((30, 60, 3), np.uint8)
    pixels[:, 20:] = 255
    Image.fromarray(pixels).save(mask)
    assert main(["panorama", "--network", str(tiny_model), "--seeds", "1,2", "--layout", str(mask), "--blend", "8",
                 "--out", str(tmp_path / "m.png")]) == 0
    assert read_recipe(tmp_path / "m.png").canvas == [8, 4]
    assert main(["panorama", "--network", str(tiny_model), "--seeds", "1,2", "--layout", "grid3x3", "--blend", "5",
                 "--out", str(tmp_path / "x.png")]) in (1, 2)
    assert "blend" in capsys.readouterr().err


def test_panoramas_are_refused_where_they_cannot_be_drawn(sg3_model, tiny_model, tmp_path):
    renderer = Renderer(load_network(sg3_model), device="cpu")
    with pytest.raises(StudioError, match="StyleGAN2 or SWAGAN"):
        panorama.panorama_recipe(renderer, RenderSettings(), [Latent(seed=1), Latent(seed=2)], ["01"], blend=16)
    renderer = Renderer(load_network(tiny_model), device="cpu")
    with pytest.raises(StudioError, match="3 regions but 2 seeds"):
        panorama.panorama_recipe(renderer, RenderSettings(), [Latent(seed=1), Latent(seed=2)], ["012"], blend=16)
    not_an_image = tmp_path / "mask.png"
    not_an_image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(StudioError, match="not a mask image"):
        panorama.region_map(str(not_an_image), 2)


@pytest.mark.parametrize("regions, message", [
    ({"labels": ["01", "0"], "latents": [{"seed": 1}]}, "one length"),
    ({"labels": ["012"], "latents": [{"seed": 1}]}, "digits 0-1"),
    ({"labels": ["0a"], "latents": [{"seed": 1}]}, "digits"),
    ({"labels": ["01"], "latents": []}, "latents"),
    ({"labels": ["01"], "latents": [{"seed": 1}], "blend": 12}, "block resolution"),
    ({"labels": ["01"], "latents": [{"seed": 1}], "feather": -1}, "feather"),
    ({"labels": ["0" * 65], "latents": [{"seed": 1}]}, "64"),
])
def test_bad_region_fields_are_refused_by_name(regions, message):
    data = {"studio_recipe": 1, "model": {"fingerprint": "f" * 64, "name": "m"}, "seed": 1, "regions": regions}
    with pytest.raises(ValueError, match=message):
        Recipe.from_dict(data)


def test_a_grey_mask_is_read_and_a_panorama_is_no_style_mix_source(tiny_model, tmp_path):
    from studio.app.mixing import Source, mix_matrix

    mask = tmp_path / "grey.png"
    pixels = np.zeros((20, 40), np.uint8)
    pixels[:, 25:] = 200
    Image.fromarray(pixels, mode="L").save(mask)
    assert panorama.region_map(str(mask), 2)[0].startswith("0") and panorama.region_map(str(mask), 2)[0].endswith("1")
    renderer = Renderer(load_network(tiny_model), device="cpu")
    pano = _with_regions(renderer.recipe(RenderSettings(), seed=3), ["01"], [9])
    with pytest.raises(ValueError, match="panorama"):
        list(mix_matrix(renderer, [Source(recipe=pano)], [Source(seed=1)], [0], RenderSettings()))
