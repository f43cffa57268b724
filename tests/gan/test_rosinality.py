"""rosinality checkpoints (StyleGAN2 and SWAGAN) load with weights_only and match the reference."""

from __future__ import annotations

import argparse

import pytest
import torch

from studio.core.errors import ModelFormatError, UnsafeFileError
from studio.gan.formats.rosinality import load_rosinality

CASES = {"rosinality_sg2_64": "stylegan2", "rosinality_swagan_64": "swagan"}
TOL = 1e-3


def _save_converted(case, path):
    """The layout of rosinality's convert_weight.py: g_ema + latent_avg."""
    torch.save({"g_ema": case.group("g_ema"), "latent_avg": case["in.truncation_latent"][0]}, path)


def _save_training(case, path):
    """The layout of rosinality's train.py: g, d, g_ema, optimisers, args, ada_aug_p."""
    args = argparse.Namespace(size=64, arch="swagan", augment=True, batch=16, r1=10.0)
    g = case.group("g_ema")
    torch.save({"g": g, "d": {}, "g_ema": g, "g_optim": {"state": {}, "param_groups": []},
                "d_optim": {"state": {}, "param_groups": []}, "args": args, "ada_aug_p": 0.186}, path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_converted_checkpoint_matches_reference(golden, tmp_path, name):
    case = golden(name)
    path = tmp_path / "model.pt"
    _save_converted(case, path)
    ckpt = load_rosinality(path)
    G = ckpt.generator
    assert ckpt.kind == CASES[name] and ckpt.w_avg_source == "latent_avg"
    assert G.img_resolution == 64 and G.num_ws == 10 - 2 * (ckpt.kind == "swagan")
    z, z2 = case["in.z"], case["in.z2"]
    with torch.inference_mode():
        img0 = G(z, None, noise_mode="const")
        img1 = G(z, None, truncation_psi=0.7, noise_mode="const")
        ws, ws2 = G.mapping(z, None), G.mapping(z2, None)
        ws[:, 3:] = ws2[:, 3:]  # inject_index=3: layers < 3 from z, the rest from z2
        mix = G.synthesis(ws, noise_mode="const")
    assert (img0 - case["out.img0"]).abs().max() < TOL
    assert (img1 - case["out.img1"]).abs().max() < TOL
    assert (mix - case["out.mix"]).abs().max() < TOL


def test_training_checkpoint_loads_with_args_and_estimated_w_avg(golden, tmp_path):
    case = golden("rosinality_swagan_64")
    path = tmp_path / "050000.pt"
    _save_training(case, path)
    ckpt = load_rosinality(path)
    assert ckpt.key == "g_ema" and ckpt.w_avg_source == "estimated"
    assert ckpt.args["size"] == 64 and ckpt.ada_aug_p == pytest.approx(0.186)
    with torch.inference_mode():
        img0 = ckpt.generator(case["in.z"], None, noise_mode="const")
    assert (img0 - case["out.img0"]).abs().max() < TOL  # psi 1 does not depend on w_avg
    # the estimate is close to the mapping network's true mean
    G = ckpt.generator
    with torch.inference_mode():
        mean = G.mapping(torch.randn(4000, G.z_dim), None)[:, 0].mean(0)
    assert (G.w_avg - mean).norm() < 0.1 * mean.norm() + 0.05


def test_checkpoint_with_arbitrary_object_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("should never run",))

    path = tmp_path / "evil.pt"
    torch.save({"g_ema": {}, "extra": Payload()}, path)
    with pytest.raises(UnsafeFileError, match="nothing from the file was run"):
        load_rosinality(path)


def test_checkpoint_without_generator_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(3)}}, path)
    with pytest.raises(ModelFormatError, match="no rosinality generator"):
        load_rosinality(path)
