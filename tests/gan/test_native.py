"""The studio's own .safetensors format, the fingerprint, and format detection."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from studio.core.errors import ModelFormatError
from studio.gan.formats import detect_format, load_network
from studio.gan.formats.native import fingerprint, save_native
from studio.gan.formats.nvidia import build_discriminator, build_generator


@pytest.fixture
def cond_networks(golden):
    case = golden("sg2ada_resnet64_cond")
    G = build_generator(case.meta["generator_attrs"], case.group("G"))
    D = build_discriminator(case.meta["discriminator_attrs"], case.group("D"))
    return case, G, D


def test_round_trip_keeps_images_discriminator_and_fingerprint(tmp_path, cond_networks):
    case, G, D = cond_networks
    path = tmp_path / "cond.safetensors"
    fp = save_native(path, G, D, provenance={"source_file": "x.pkl"}, training_state={"kimg": 12.5})
    net = load_network(path)
    assert net.format == "native" and net.fingerprint == fp == fingerprint(G)
    assert net.provenance["source_file"] == "x.pkl" and net.training_state["kimg"] == 12.5
    assert net.summary()["training"] == "12.5 kimg"           # what `studio info` prints of it
    save_native(path, G, training_state={"kimg": 251.128, "p": 0.6388, "train_seconds": 19342,
                                         "hardware": ["cpu (2 threads)"], "options": {"batch": 16}})
    assert load_network(path).summary()["training"] == "251.1 kimg, ADA p 0.639, 5.4 h on cpu (2 threads)"
    with torch.inference_mode():
        img = net.G(case["in.z"], case["in.c"], noise_mode="const")
        assert (img - case["out.img0"]).abs().max() < 1e-3
        assert (net.D(case["out.img0"], case["in.c"]) - case["out.d0"]).abs().max() < 1e-3


def test_half_precision_file_is_half_the_size_and_close(tmp_path, cond_networks):
    case, G, D = cond_networks
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_native(full, G)
    fp_half = save_native(half, G, half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    net = load_network(half)
    assert net.fingerprint == fp_half != fingerprint(G)
    with torch.inference_mode():
        img = net.G(case["in.z"], case["in.c"], noise_mode="const")
    assert (img - case["out.img0"]).abs().max() < 0.05


def test_fingerprint_changes_when_any_weight_changes(cond_networks):
    _, G, _ = cond_networks
    before = fingerprint(G)
    with torch.no_grad():
        G.synthesis.b64.conv1.weight[0, 0, 0, 0] += 1e-3
    assert fingerprint(G) != before


def test_foreign_safetensors_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFormatError, match="not a GAN Art Studio network"):
        load_network(path)


def test_damaged_metadata_is_reported(tmp_path, cond_networks):
    _, G, _ = cond_networks
    path = tmp_path / "bad.safetensors"
    save_native(path, G)
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    meta["generator_config"] = json.dumps({"z_dim": 32, "bogus": 1})
    save_file(load_file(str(path)), str(path), metadata=meta)
    with pytest.raises(ModelFormatError, match="damaged metadata"):
        load_network(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"hello, I am a text file\n", "not a network file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a network file"),
        (b"PK\x03\x04" + bytes(60), "could not be read|cannot read"),
    ],
)
def test_wrong_files_get_one_clear_line(tmp_path, content, message):
    path = tmp_path / "model.pkl"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=message) as info:
        load_network(path)
    assert "\n" not in str(info.value)


def test_truncated_checkpoint_is_reported(tmp_path, golden):
    case = golden("rosinality_sg2_64")
    path = tmp_path / "cut.pt"
    torch.save({"g_ema": case.group("g_ema")}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError):
        load_network(path)


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="folder"):
        detect_format(tmp_path)
    with pytest.raises(ModelFormatError, match="does not exist"):
        detect_format(tmp_path / "nope.pkl")


@pytest.mark.parametrize("pad", range(0, 256, 8))
def test_safetensors_whose_header_length_starts_with_0x80_is_not_a_pickle(tmp_path, pad):
    """A header of 0x80 + 256 k bytes once made a studio file look like a pickle (protocol 'byte 2')."""
    from safetensors.torch import save_file

    path = tmp_path / "net.safetensors"
    save_file({"x": torch.zeros(2)}, str(path), metadata={"pad": "p" * pad})
    assert detect_format(path) == "native"
    with open(path, "wb") as f:   # a real pickle still is one
        f.write(b"\x80\x04\x95" + b"{" * 13)
    assert detect_format(path) == "nvidia-pkl"
