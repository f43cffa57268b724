"""An NVIDIA-structured pickle of the golden networks loads and renders the reference images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.formats import load_network
from studio.imaging.metadata import read_recipe
from tests.nvidia_pickles import write_pickle


@pytest.mark.parametrize("name", ["sg2ada_skip32", "sg2ada_resnet64_cond", "sg2ada_orig128_rgba"])
def test_pickle_loads_and_matches_reference(golden, tmp_path, name):
    case = golden(name)
    net = load_network(write_pickle(case, tmp_path / "network-snapshot-000100.pkl"))
    assert net.format == "nvidia-pkl" and net.D is not None
    with torch.inference_mode():
        img = net.G(case["in.z"], case["in.c"], noise_mode="const")
        assert (img - case["out.img0"]).abs().max() < 1e-3
        assert (net.D(case["out.img0"], case["in.c"]) - case["out.d0"]).abs().max() < 1e-3


def test_generate_gives_the_reference_images_for_the_same_seeds(golden, tmp_path):
    """`studio generate` on a pickle = the reference quantisation of the reference output."""
    case = golden("sg2ada_skip32")
    pkl = write_pickle(case, tmp_path / "skip32.pkl")
    out = tmp_path / "out"
    seeds = case.meta["inputs"]["seeds"]
    assert main(["generate", "--network", str(pkl), "--seeds", ",".join(map(str, seeds)), "--outdir", str(out)]) == 0
    expected = (case["out.img0"] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, seed in enumerate(seeds):
        got = np.asarray(Image.open(out / f"seed{seed:04d}.png"))
        assert np.abs(got.astype(int) - expected[i].astype(int)).max() <= 1
        assert (got == expected[i]).mean() > 0.999


def test_fingerprint_survives_conversion(golden, tmp_path):
    case = golden("sg2ada_resnet64_cond")
    pkl = write_pickle(case, tmp_path / "cond.pkl", protocol=2)
    out = tmp_path / "cond.safetensors"
    assert main(["convert", str(pkl), str(out)]) == 0
    a, b = load_network(pkl), load_network(out)
    assert a.fingerprint == b.fingerprint and b.D is not None
    assert b.provenance["source_format"] == "nvidia-pkl" and len(b.provenance["source_sha256"]) == 64
    recipe_dir = tmp_path / "gen"
    assert main(["generate", "--network", str(out), "--seeds", "9", "--class", "2", "--outdir", str(recipe_dir)]) == 0
    assert read_recipe(recipe_dir / "seed0009.png").model.fingerprint == a.fingerprint
