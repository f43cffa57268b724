"""Native canvases: a square-trained StyleGAN2 renders wide and tall pictures without stretching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.networks import ops
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings, canvas_units
from studio.imaging.metadata import read_recipe


def test_ratios_become_quarters_of_the_side():
    assert canvas_units("16:9") == (7, 4) and canvas_units("9:16") == (4, 7)
    assert canvas_units("1.27") == (5, 4) and canvas_units("4:5") == (4, 5) and canvas_units("1") == (4, 4)
    for bad in ("0", "x", "10:1", "1:0"):
        with pytest.raises(ValueError):
            canvas_units(bad)


@pytest.mark.parametrize("mode", ops.CANVAS_MODES)
def test_wide_and_tall_canvases_have_their_shape_and_are_deterministic(tiny_model, mode):
    renderer = Renderer(load_network(tiny_model), device="cpu")
    ws = renderer.ws_from_seeds([3, 4], RenderSettings())
    with torch.inference_mode():
        for units, shape in (((6, 4), (64, 96)), ((4, 5), (80, 64))):
            with ops.canvas(units, mode):
                a = renderer.G.synthesis(ws, noise_mode="const")
                b = renderer.G.synthesis(ws[:1], noise_mode="const")
            assert tuple(a.shape[2:]) == shape and torch.isfinite(a).all()
            assert (a[:1] - b).abs().max() < 1e-4            # one image or two: the same picture
            plain = renderer.G.synthesis(ws, noise_mode="const")
            assert (a.mean() - plain.mean()).abs() < 0.5 * plain.std()   # the same kind of picture


def test_cli_canvas_is_recipe_and_other_networks_are_refused(tiny_model, sg3_model, tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "2", "--canvas", "16:9", "--outdir", str(out)]) == 0
    image = np.asarray(Image.open(out / "seed0002.png"))
    assert image.shape == (64, 112, 3)
    recipe = read_recipe(out / "seed0002.png")
    assert recipe.canvas == [7, 4]
    renderer = Renderer(load_network(tiny_model), device="cpu")
    assert np.array_equal(renderer.render_recipe(recipe), image)
    dcgan = tmp_path / "dcgan.safetensors"
    _write_dcgan(dcgan)
    assert main(["generate", "--network", str(dcgan), "--seeds", "2", "--canvas", "16:9", "--outdir", str(out)]) in (1, 2)
    assert "native canvases come from StyleGAN2, SWAGAN and StyleGAN3" in capsys.readouterr().err


def _write_dcgan(path):
    from studio.gan.formats.native import save_native
    from tests.gan.test_dcgan import tiny_networks

    save_native(path, *tiny_networks())


def test_stylegan3_draws_a_wider_view_of_the_same_picture(sg3_model, tmp_path):
    """StyleGAN3's input grid, sampled wider: the square picture sits in the middle of the wide one."""
    renderer = Renderer(load_network(sg3_model), device="cpu")
    square = renderer.render_recipe(renderer.recipe(RenderSettings(), seed=4)).astype(int)
    wide = renderer.render_recipe(renderer.recipe(RenderSettings(canvas=(7, 4)), seed=4)).astype(int)
    tall = renderer.render_recipe(renderer.recipe(RenderSettings(canvas=(4, 6)), seed=4)).astype(int)
    assert wide.shape == (64, 112, 3) and tall.shape == (96, 64, 3)
    assert np.abs(wide[:, 24:88] - square).mean() < 0.1 and np.abs(tall[16:80] - square).mean() < 0.1
    assert np.abs(wide[:, :64] - square).mean() > 1                      # and it is more than the square
    out = tmp_path / "w"
    assert main(["generate", "--network", str(sg3_model), "--seeds", "4", "--canvas", "7:4", "--outdir", str(out)]) == 0
    assert np.array_equal(renderer.render_recipe(read_recipe(out / "seed0004.png")), wide)


def test_export_native_renders_the_print_shape_and_tiles_stay_seamless_when_wide(tiny_model, tmp_path):
    from tests.gan.test_tiles import seam_ratio

    gen = tmp_path / "g"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "5", "--tile", "--outdir", str(gen)]) == 0
    out = tmp_path / "wide.png"
    assert main(["export", str(gen / "seed0005.png"), "--network", str(tiny_model), "--aspect", "16:9",
                 "--mode", "native", "--out", str(out)]) == 0
    recipe = read_recipe(out)
    assert recipe.canvas == [7, 4] and recipe.tile
    image = np.asarray(Image.open(out))
    assert abs(image.shape[1] / image.shape[0] - 16 / 9) < 0.02           # the print's shape, not stretched
    renderer = Renderer(load_network(tiny_model), device="cpu")
    wide = renderer.render_recipe(recipe)
    assert wide.shape == (64, 112, 3) and seam_ratio(wide) < 1.5           # wide and still seamless
