"""Seamless tiles: a StyleGAN2 network renders one period of a texture, and recipes keep it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.networks import ops
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.metadata import read_recipe


def seam_ratio(image: np.ndarray) -> float:
    """Mean |difference| across the wrap-around edges over the mean between neighbouring pixels."""
    x = image.astype(np.float64)
    inner = (np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=0)).mean()) / 2
    wrap = (np.abs(x[:, 0] - x[:, -1]).mean() + np.abs(x[0] - x[-1]).mean()) / 2
    return wrap / inner


def test_a_tile_continues_across_its_edges():
    renderer = Renderer(load_network("default"), device="cpu")
    seeds = list(range(12))
    tiled = [image for _, image in renderer.render_seeds(seeds, RenderSettings(class_index=2, tile=True))]
    plain = [image for _, image in renderer.render_seeds(seeds, RenderSettings(class_index=2))]
    assert np.mean([seam_ratio(t) for t in tiled]) < 1.15
    assert np.mean([seam_ratio(p) for p in plain]) > 2 * np.mean([seam_ratio(t) for t in tiled])


def test_the_wrapped_margin_is_wide_enough(tiny_model):
    """A wider wrapped margin changes nothing: the circular convolution is exact."""
    G = load_network(tiny_model).G
    layer = G.synthesis.b16.conv0
    x = torch.randn(1, layer.in_channels, 8, 8)
    w = torch.randn(1, G.w_dim)
    with torch.inference_mode(), ops.tiling():
        y = layer(x, w, noise_mode="none")
        # the same layer on the input repeated 3x3: its centre is the tile, wherever the zero padding was
        big = layer._conv(x.repeat(1, 1, 3, 3), layer.weight, None)
        small = layer._conv(x, layer.weight, None)
    assert y.shape == (1, layer.out_channels, 16, 16)
    assert (big[:, :, 16:32, 16:32] - small).abs().max() < 1e-4 * small.abs().max()


def test_cli_tiles_are_recipes_and_other_networks_are_refused(tiny_model, sg3_model, tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "4", "--tile", "--outdir", str(out)]) == 0
    recipe = read_recipe(out / "seed0004.png")
    assert recipe.tile
    renderer = Renderer(load_network(tiny_model), device="cpu")
    assert np.array_equal(renderer.render_recipe(recipe), np.asarray(Image.open(out / "seed0004.png")))
    assert main(["generate", "--network", str(sg3_model), "--seeds", "4", "--tile", "--outdir", str(out)]) in (1, 2)
    assert "StyleGAN2" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["tiny_model", "tiny_swagan_model"])
def test_a_tile_is_one_period_exactly(model, request):
    """Twice as wide with the constant repeated, a tiled render is the tile twice: its right column
    runs on into its left one (StyleGAN2 and SWAGAN, whose wavelet steps stay inside 2x2 blocks)."""
    renderer = Renderer(load_network(request.getfixturevalue(model)), device="cpu")
    ws = renderer.ws_from_seeds([6], RenderSettings())
    with torch.inference_mode(), ops.tiling():
        tile = renderer.G.synthesis(ws, noise_mode="const")
        with ops.canvas((8, 4), "repeat"):
            double = renderer.G.synthesis(ws, noise_mode="const")
    with torch.inference_mode(), ops.canvas((8, 4), "repeat"):
        plain_double = renderer.G.synthesis(ws, noise_mode="const")
    assert double.shape[-1] == 2 * tile.shape[-1]
    half = tile.shape[-1]
    # the widened constant is centred: the copies start half a tile in
    assert (double - torch.cat([tile, tile], dim=-1).roll(-half // 2, dims=-1)).abs().max() < 1e-4
    assert (plain_double[..., :half] - plain_double[..., half:]).abs().max() > 1e-2   # untiled, the copies differ


def test_stylegan3_tiles_are_refused_with_the_reason(sg3_model):
    renderer = Renderer(load_network(sg3_model), device="cpu")
    with pytest.raises(ValueError, match="whole cycles"):
        renderer.render_recipe(renderer.recipe(RenderSettings(tile=True), seed=1))


def test_a_tile_exported_at_print_size_stays_seamless_and_its_repeat_is_written(tiny_model, tmp_path, capsys):
    gen = tmp_path / "g"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "4,5", "--tile", "--outdir", str(gen)]) == 0
    out = tmp_path / "print.png"
    assert main(["export", str(gen / "seed0004.png"), "--network", str(tiny_model), "--long-side", "200",
                 "--sharpen", "1", "--repeat", "3", "--out", str(out)]) == 0
    assert "repeated 3 x 3" in capsys.readouterr().out
    tile = np.asarray(Image.open(out))
    assert tile.shape == (200, 200, 3)
    assert seam_ratio(tile) < 1.2                         # resampled and sharpened around, not up to an edge
    repeat = np.asarray(Image.open(tmp_path / "print-repeat3x3.png"))
    assert np.array_equal(repeat, np.tile(tile, (3, 3, 1)))
    assert read_recipe(tmp_path / "print-repeat3x3.png").tile
    plain = tmp_path / "plain"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "4", "--outdir", str(plain)]) == 0
    assert main(["export", str(plain / "seed0004.png"), "--network", str(tiny_model), "--repeat", "2",
                 "--out", str(tmp_path / "p.png")]) == 0
    assert "not a seamless tile" in capsys.readouterr().err
    assert not (tmp_path / "p-repeat2x2.png").exists()


def test_a_tile_cropped_to_another_shape_gets_no_repeat(tiny_model, tmp_path, capsys):
    gen = tmp_path / "g"
    assert main(["generate", "--network", str(tiny_model), "--seeds", "4", "--tile", "--outdir", str(gen)]) == 0
    out = tmp_path / "print.png"
    assert main(["export", str(gen / "seed0004.png"), "--network", str(tiny_model), "--aspect", "4:5", "--mode", "crop",
                 "--repeat", "3", "--out", str(out)]) == 0
    assert "no longer repeats" in capsys.readouterr().err
    assert out.exists() and not (tmp_path / "print-repeat3x3.png").exists()
