"""`studio evolve`: generations of images with recipes and a JSON log, with the golden 64 px
generator and a tiny random CLIP saved by the test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.gan.formats.native import save_native
from studio.gan.formats.nvidia import build_discriminator, build_generator
from studio.gan.render import Renderer
from studio.imaging.metadata import read_recipe
from tests.clip_fixtures import make_tiny_clip

PROMPT = "an abstract painting with orange triangles"


@pytest.fixture(scope="module")
def files(golden, tmp_path_factory):
    """The golden rosinality network (no discriminator), a conditional network with its
    discriminator, and a tiny CLIP."""
    folder = tmp_path_factory.mktemp("evolve")
    sg2 = golden("rosinality_sg2_64")
    torch.save({"g_ema": sg2.group("g_ema"), "latent_avg": sg2["in.truncation_latent"][0]}, folder / "sg2.pt")
    cond = golden("sg2ada_resnet64_cond")
    save_native(folder / "cond.safetensors", build_generator(cond.meta["generator_attrs"], cond.group("G")),
                build_discriminator(cond.meta["discriminator_attrs"], cond.group("D")))
    weights, config, _ = make_tiny_clip(folder / "clip")
    return {"network": folder / "sg2.pt", "cond": folder / "cond.safetensors", "clip": weights, "clip_config": config}


def _args(files, out, *extra, network=None):
    return ["evolve", "--network", str(network or files["network"]), "--prompt", PROMPT,
            "--clip", str(files["clip"]), "--clip-config", str(files["clip_config"]),
            "--population", "12", "--parents", "2", "--generations", "2", "--seed", "5",
            "--outdir", str(out), *extra]


def _pixels(path):
    return np.asarray(Image.open(path))


def test_evolve_writes_generations_recipes_and_a_log(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(files, out, "--negative", "a photo")) == 0
    assert sorted(p.name for p in out.iterdir()) == ["evolution.json", "gen00", "gen01", "gen02"]
    for gen in ("gen00", "gen01", "gen02"):   # K + K*K = 6 kept per generation by default
        assert sorted(p.name for p in (out / gen).iterdir()) == [f"rank0{i}.png" for i in range(1, 7)]
    log = json.loads((out / "evolution.json").read_text())
    assert log["config"]["population"] == 12 and log["config"]["parents"] == 2 and log["config"]["seed"] == 5
    assert log["fitness"]["prompt"] == PROMPT and log["fitness"]["negative"] == "a photo"
    assert log["clip"]["input_size"] == 32 and log["score_resolution"] == 64
    gens = log["generations"]
    assert [len(g["individuals"]) for g in gens] == [12, 6, 6]
    for before, after in zip(gens, gens[1:]):   # each generation bred from the best of the one before
        assert after["parents"] == before["suggested"] == [ind["id"] for ind in before["individuals"][:2]]
    for g in gens:
        scores = [ind["score"] for ind in g["individuals"]]
        assert scores == sorted(scores, reverse=True)
        assert g["files"] == [f"gen{g['index']:02d}/rank0{i}.png" for i in range(1, 7)]
        for ind in g["individuals"]:
            assert ind["score"] == pytest.approx(ind["parts"]["clip"] - ind["parts"]["negative"], abs=1e-6)
    # every PNG carries a recipe (explicit w) that re-creates it
    renderer = Renderer(load_network(files["network"]), device="cpu")
    for name in ("gen00/rank01.png", "gen02/rank06.png"):
        recipe = read_recipe(out / name)
        assert recipe.w.shape == (renderer.num_ws, renderer.G.w_dim) and recipe.truncation_psi == 1.0
        assert np.abs(renderer.render_recipe(recipe).astype(int) - _pixels(out / name).astype(int)).max() <= 1
    printed = capsys.readouterr().out
    assert "generation 2: best" in printed and "wrote 18 images in 3 generations" in printed


def test_same_seed_same_run(files, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, seed in ((a, "5"), (b, "5"), (c, "6")):
        assert main(_args(files, folder, "--space", "z", "--seed", seed)) == 0
    log_a, log_b, log_c = (json.loads((d / "evolution.json").read_text()) for d in (a, b, c))
    assert log_a == log_b and log_a["config"]["space"] == "z"
    assert np.array_equal(_pixels(a / "gen02" / "rank01.png"), _pixels(b / "gen02" / "rank01.png"))
    assert log_c["generations"] != log_a["generations"]


def test_keep_controls_how_many_images_are_written(files, tmp_path):
    assert main(_args(files, tmp_path / "all", "--keep", "0", "--generations", "1")) == 0
    assert len(list((tmp_path / "all" / "gen00").iterdir())) == 12
    assert len(list((tmp_path / "all" / "gen01").iterdir())) == 6
    assert main(_args(files, tmp_path / "three", "--keep", "3", "--generations", "0")) == 0
    assert sorted(p.name for p in (tmp_path / "three" / "gen00").iterdir()) == ["rank01.png", "rank02.png", "rank03.png"]


def test_realness_uses_the_discriminator_of_a_conditional_model(files, tmp_path):
    out = tmp_path / "real"
    assert main(_args(files, out, "--realness", "0.5", "--class", "1", "--generations", "1",
                      network=files["cond"])) == 0
    log = json.loads((out / "evolution.json").read_text())
    assert log["settings"]["class_index"] == 1 and log["fitness"]["realness_weight"] == 0.5
    for ind in log["generations"][1]["individuals"]:
        assert 0.0 <= ind["parts"]["realness"] <= 1.0
        assert ind["score"] == pytest.approx(ind["parts"]["clip"] + 0.5 * ind["parts"]["realness"], abs=1e-6)
    assert read_recipe(out / "gen01" / "rank01.png").class_index == 1


@pytest.mark.parametrize("extra, message", [
    (["--realness", "1"], "realness needs the model's discriminator"),
    (["--parents", "0"], "'parents' must be 1 to 16"),
    (["--parents", "13"], "cannot keep 13 parents from a population of 12"),
    (["--recombination", "2"], "'recombination' must be from 0 to 1"),
    (["--keep", "-1"], "--keep must be 0"),
    (["--prompt", "  "], "--prompt is empty"),
])
def test_clear_errors(files, tmp_path, capsys, extra, message):
    assert main(_args(files, tmp_path / "x", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_conditional_model_without_a_class_evolves_class_0(files, tmp_path, capsys):
    assert main(_args(files, tmp_path / "x", network=files["cond"])) == 0
    assert "rendering class 0 -- choose another with --class 0-2" in capsys.readouterr().err
