"""The `studio` command: generate, mix, info, convert, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.formats.native import save_native
from studio.gan.formats.nvidia import build_generator
from studio.gan.latents import zs_from_seeds
from studio.gan.render import Renderer, to_uint8
from studio.imaging.metadata import read_recipe


@pytest.fixture(scope="module")
def models(golden, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    sg2 = golden("rosinality_sg2_64")
    torch.save({"g_ema": sg2.group("g_ema"), "latent_avg": sg2["in.truncation_latent"][0]}, folder / "sg2.pt")
    cond = golden("sg2ada_resnet64_cond")
    save_native(folder / "cond.safetensors", build_generator(cond.meta["generator_attrs"], cond.group("G")))
    return folder


def _pixels(path):
    return np.asarray(Image.open(path))


def test_generate_matches_direct_synthesis_and_carries_recipes(models, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "--network", str(models / "sg2.pt"), "--seeds", "1-3,7", "--trunc", "0.7",
                 "--outdir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["seed0001.png", "seed0002.png", "seed0003.png", "seed0007.png"]
    G = load_network(models / "sg2.pt").G
    with torch.inference_mode():
        expected = to_uint8(G(torch.from_numpy(zs_from_seeds([7], G.z_dim)), None, truncation_psi=0.7))[0]
    got = _pixels(out / "seed0007.png")
    assert got.shape == (64, 64, 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # batch vs single: float rounding only
    recipe = read_recipe(out / "seed0007.png")
    assert recipe.seed == 7 and recipe.truncation_psi == 0.7 and recipe.model.name == "sg2"


def test_recipe_in_png_recreates_the_image(models, tmp_path):
    out = tmp_path / "out"
    main(["generate", "--network", str(models / "sg2.pt"), "--seeds", "5", "--noise-mode", "random",
          "--outdir", str(out)])
    recipe = read_recipe(out / "seed0005.png")
    assert recipe.noise_mode == "random" and recipe.noise_seed == 5
    renderer = Renderer(load_network(models / "sg2.pt"), device="cpu")
    assert np.array_equal(renderer.render_recipe(recipe), _pixels(out / "seed0005.png"))


def test_random_noise_is_reproducible_and_differs_from_const(models, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, mode, batch in ((a, "random", "1"), (b, "random", "4"), (c, "const", "4")):
        main(["generate", "--network", str(models / "cond.safetensors"), "--class", "0", "--seeds", "1-4",
              "--noise-mode", mode, "--batch", batch, "--outdir", str(folder)])
    ra, rb, rc = (_pixels(f / "seed0003.png").astype(int) for f in (a, b, c))
    assert np.abs(ra - rb).max() <= 1
    assert np.abs(ra - rc).mean() > 1


def test_conditional_model_renders_class_0_unless_told(models, tmp_path, capsys):
    net = str(models / "cond.safetensors")
    assert main(["generate", "--network", net, "--seeds", "1", "--outdir", str(tmp_path / "a")]) == 0
    assert "rendering class 0 -- choose another with --class 0-2" in capsys.readouterr().err
    assert read_recipe(tmp_path / "a" / "seed0001.png").class_index == 0
    assert main(["generate", "--network", net, "--seeds", "1", "--class", "3", "--outdir", str(tmp_path)]) == 2
    assert "--class must be in 0-2" in capsys.readouterr().err
    assert main(["generate", "--network", net, "--seeds", "1", "--class", "1", "--outdir", str(tmp_path)]) == 0
    assert main(["generate", "--network", net, "--seeds", "1", "--class", "2", "--outdir", str(tmp_path / "b")]) == 0
    assert not np.array_equal(_pixels(tmp_path / "seed0001.png"), _pixels(tmp_path / "b" / "seed0001.png"))
    assert read_recipe(tmp_path / "seed0001.png").class_index == 1


def test_mix_writes_cells_and_a_labelled_grid(models, tmp_path):
    out = tmp_path / "mix"
    assert main(["mix", "--network", str(models / "sg2.pt"), "--rows", "85,100", "--cols", "55,821,1789",
                 "--styles", "0-3", "--outdir", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"85-55.png", "100-1789.png", "grid.png"} <= names and len(names) == 7
    assert Image.open(out / "grid.png").size == (4 * 64, 3 * 64)
    recipe = read_recipe(out / "100-821.png")
    assert recipe.seed == 100 and recipe.mix.source.seed == 821 and recipe.mix.layers == [0, 1, 2, 3]
    renderer = Renderer(load_network(models / "sg2.pt"), device="cpu")
    cell = renderer.render_recipe(recipe)
    assert np.abs(cell.astype(int) - _pixels(out / "100-821.png").astype(int)).max() <= 1
    # the grid's mixed cell is the cell image
    grid = np.asarray(Image.open(out / "grid.png").convert("RGB"))
    assert np.array_equal(grid[2 * 64:3 * 64, 2 * 64:3 * 64], _pixels(out / "100-821.png"))


def test_mix_rejects_layers_beyond_the_model(models, tmp_path, capsys):
    assert main(["mix", "--network", str(models / "sg2.pt"), "--rows", "1", "--cols", "2", "--styles", "0-12",
                 "--outdir", str(tmp_path)]) == 2
    assert "0-9" in capsys.readouterr().err


def test_info_and_convert_keep_the_fingerprint(models, tmp_path, capsys):
    assert main(["info", str(models / "sg2.pt"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["resolution"] == "64x64" and info["num_ws"] == 10 and info["format"] == "rosinality checkpoint"
    out = tmp_path / "sg2.safetensors"
    assert main(["convert", str(models / "sg2.pt"), str(out)]) == 0
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 2)[-1])["fingerprint"] == info["fingerprint"]
    assert main(["convert", str(models / "sg2.pt"), str(out)]) == 2  # exists, no --force
    for net, folder in ((models / "sg2.pt", "a"), (out, "b")):
        main(["generate", "--network", str(net), "--seeds", "3", "--outdir", str(tmp_path / folder)])
    assert np.array_equal(_pixels(tmp_path / "a" / "seed0003.png"), _pixels(tmp_path / "b" / "seed0003.png"))


@pytest.mark.parametrize("args, message", [
    (["generate", "--network", "{bad}", "--seeds", "1"], "not a network file"),
    (["generate", "--network", "{models}/sg2.pt", "--seeds", "4-1"], "4-1"),
    (["info", "{empty}"], "empty"),
    (["info", "{models}"], "folder"),
])
def test_errors_are_one_line_with_exit_code_2(models, tmp_path, args, message):
    bad = tmp_path / "bad.pkl"
    bad.write_text("not a network")
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    argv = [a.format(bad=bad, models=models, empty=empty) for a in args]
    result = subprocess.run([sys.executable, "-m", "studio", *argv], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_disk_that_says_no_is_one_line_not_a_traceback(tmp_path, capsys):
    """OSError from any command (a read-only or full disk, a file where a folder should be)."""
    from studio.cli import run_command

    def writes_to_a_full_disk(_args):
        raise OSError(28, "No space left on device", str(tmp_path / "out.png"))

    assert run_command(writes_to_a_full_disk, None) == 1
    assert capsys.readouterr().err == f"error: No space left on device: {tmp_path / 'out.png'}\n"
