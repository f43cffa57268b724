"""Every command works with a StyleGAN3 network, and its view (translate / rotate) travels in recipes."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings
from studio.imaging.metadata import read_recipe
from tests.clip_fixtures import make_tiny_clip


def _pixels(path):
    return np.asarray(Image.open(path)).astype(int)


def test_generate_with_a_view_matches_gen_images_and_the_recipe_re_creates_it(sg3_model, golden, tmp_path):
    out = tmp_path / "gen"
    assert main(["generate", "--network", str(sg3_model), "--seeds", "0,1", "--translate", "0.1,-0.2",
                 "--rotate", "30", "--outdir", str(out)]) == 0
    recipe = read_recipe(out / "seed0001.png")
    assert recipe.translate == (0.1, -0.2) and recipe.rotate == 30.0
    renderer = Renderer(load_network(sg3_model), device="cpu")
    assert np.abs(renderer.render_recipe(recipe).astype(int) - _pixels(out / "seed0001.png")).max() == 0
    # gen_images.py's way: the input's transform buffer set to the inverse of the view matrix
    from studio.gan.networks.stylegan3 import view_transform

    G = load_network(sg3_model).G
    G.synthesis.input.transform.copy_(view_transform((0.1, -0.2), 30.0))
    with torch.inference_mode():
        ws = G.mapping(torch.from_numpy(np.random.RandomState(1).randn(1, G.z_dim).astype(np.float32)), None)
        img = (G.synthesis(ws) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.abs(img.astype(int) - _pixels(out / "seed0001.png")).max() <= 1
    plain = tmp_path / "plain"
    assert main(["generate", "--network", str(sg3_model), "--seeds", "1", "--outdir", str(plain)]) == 0
    assert np.abs(_pixels(plain / "seed0001.png") - _pixels(out / "seed0001.png")).mean() > 1  # (a faint random net)


def test_a_view_on_a_stylegan2_network_is_refused(tiny_model, tmp_path, capsys):
    assert main(["generate", "--network", str(tiny_model), "--seeds", "0", "--rotate", "10",
                 "--outdir", str(tmp_path)]) == 2                     # a usage error
    assert "StyleGAN3" in capsys.readouterr().err


def test_mix_takes_presets_by_name(sg3_model, tmp_path, capsys):
    assert main(["mix", "--network", str(sg3_model), "--rows", "1,2", "--cols", "3", "--styles", "position",
                 "--outdir", str(tmp_path / "m")]) == 0
    assert "style layers 0" in capsys.readouterr().out
    recipe = read_recipe(tmp_path / "m" / "2-3.png")
    assert recipe.mix.layers == [0]


def test_interpolation_video_of_a_stylegan3_network(sg3_model, tmp_path):
    out = tmp_path / "frames"
    assert main(["interpolate", "--network", str(sg3_model), "--seeds", "1,5", "--frames", "5",
                 "--out", str(out)]) == 0                                 # a folder: one PNG per frame
    frames = sorted(out.glob("*.png"))
    assert len(frames) == 5
    renderer = Renderer(load_network(sg3_model), device="cpu")
    ends = dict(renderer.render_seeds([1, 5], RenderSettings()))
    assert np.abs(_pixels(frames[0]) - ends[1]).max() <= 1 and np.abs(_pixels(frames[-1]) - ends[5]).max() <= 1


def test_export_re_renders_a_stylegan3_recipe_at_print_size(sg3_model, tmp_path):
    gen = tmp_path / "gen"
    assert main(["generate", "--network", str(sg3_model), "--seeds", "4", "--rotate", "15", "--outdir", str(gen)]) == 0
    out = tmp_path / "print.png"
    assert main(["export", str(gen / "seed0004.png"), "--network", str(sg3_model), "--long-side", "128",
                 "--out", str(out)]) == 0
    recipe = read_recipe(out)
    assert recipe.rotate == 15.0 and Image.open(out).size == (128, 128)


def test_evolve_a_stylegan3_network_through_its_view(sg3_model, tmp_path):
    weights, config, _ = make_tiny_clip(tmp_path / "clip")
    out = tmp_path / "run"
    assert main(["evolve", "--network", str(sg3_model), "--prompt", "orange rings", "--clip", str(weights),
                 "--clip-config", str(config), "--population", "6", "--parents", "2", "--generations", "1",
                 "--seed", "3", "--rotate", "45", "--outdir", str(out)]) == 0
    best = out / "gen01" / "rank01.png"
    recipe = read_recipe(best)
    assert recipe.rotate == 45.0 and recipe.w.shape == (16, 32)
    renderer = Renderer(load_network(sg3_model), device="cpu")
    assert np.abs(renderer.render_recipe(recipe).astype(int) - _pixels(best)).max() <= 1


def test_info_and_convert_keep_a_stylegan3_network(sg3_model, tmp_path, capsys):
    assert main(["info", str(sg3_model)]) == 0
    assert "stylegan3-t (translation equivariant, 14 layers)" in capsys.readouterr().out
    out = tmp_path / "sg3.safetensors"
    assert main(["convert", str(sg3_model), str(out)]) == 0
    a, b = load_network(sg3_model), load_network(out)
    assert a.fingerprint == b.fingerprint and b.kind == "stylegan3" and b.D is not None
    settings = RenderSettings(truncation_psi=0.7, rotate=10.0)
    ra, rb = Renderer(a, device="cpu"), Renderer(b, device="cpu")
    assert np.array_equal(ra.synthesize(ra.ws_from_seeds([3], settings), settings),
                          rb.synthesize(rb.ws_from_seeds([3], settings), settings))
