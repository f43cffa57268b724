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


def _with_pickle(tmp_path, pickle_bytes: bytes):
    """A real torch.save archive whose data.pkl is replaced by ``pickle_bytes``."""
    import zipfile

    real = tmp_path / "real.pt"
    torch.save({"g_ema": {"w": torch.zeros(2)}}, real)
    forged = tmp_path / "forged.pt"
    with zipfile.ZipFile(real) as src, zipfile.ZipFile(forged, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = pickle_bytes if info.filename.endswith("/data.pkl") else src.read(info)
            dst.writestr(info.filename, data)
    return forged


def test_checkpoint_with_a_deeply_nested_key_is_refused_not_a_crash(tmp_path):
    """torch's weights-only loader hashes the key in C without a depth limit (SIGSEGV)."""
    from tests.nvidia_pickles import refusal_in_a_child

    path = _with_pickle(tmp_path, b"\x80\x02}" + b")" + b"\x85" * 150_000 + b"Ns.")
    message = refusal_in_a_child("studio.gan.formats.rosinality", "load_rosinality", path)
    assert "refused to load 'forged.pt': it builds a value nested 65 levels deep" in message


def test_zip_bombed_checkpoint_is_refused_before_unpacking(tmp_path):
    import zipfile

    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}.")
        archive.writestr("archive/data/0", bytes(200 * 2**20))
    assert path.stat().st_size < 2**20
    with pytest.raises(ModelFormatError, match=r"unpack to 0\.2 GiB .* \(a zip bomb"):
        load_rosinality(path)
