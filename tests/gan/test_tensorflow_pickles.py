"""TF-era StyleGAN2 pickles open without TensorFlow, nothing in them runs, and they render as
NVIDIA's PyTorch code renders them after its ``legacy.py`` conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core.errors import ModelFormatError
from studio.gan.formats import load_network
from studio.gan.formats.nvidia_pickle import read_nvidia_pickle
from tests.conftest import GOLDEN_DIR
from tests.nvidia_pickles import dump_tf, tf_state

PICKLE = GOLDEN_DIR / "sg2tf_skip32.pkl"


def test_tf_pickle_renders_the_reference(golden):
    case = golden("sg2tf_skip32")
    net = load_network(PICKLE)
    assert net.format == "nvidia-tf-pkl" and net.kind == "stylegan2" and net.D is not None
    with torch.inference_mode():
        ws = net.G.mapping(case["in.z"], None, truncation_psi=0.7)
        img = net.G.synthesis(case["out.ws"], noise_mode="const")
        assert net.D(img).shape == (3, 1)
    assert (ws - case["out.ws"]).abs().max() < 1e-4
    assert (img - case["out.img"]).abs().max() < 1e-3


def test_generate_gives_the_reference_pictures_and_info_names_the_format(golden, tmp_path, capsys):
    case = golden("sg2tf_skip32")
    seeds = case.meta["seeds"]
    out = tmp_path / "out"
    assert main(["generate", "--network", str(PICKLE), "--seeds", ",".join(map(str, seeds)), "--trunc", "0.7",
                 "--outdir", str(out)]) == 0
    expected = (case["out.img"] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, seed in enumerate(seeds):
        got = np.asarray(Image.open(out / f"seed{seed:04d}.png")).astype(int)
        assert np.abs(got - expected[i].astype(int)).max() <= 1
    capsys.readouterr()
    assert main(["info", str(PICKLE)]) == 0
    assert "TensorFlow-era" in capsys.readouterr().out


def test_convert_keeps_the_fingerprint(tmp_path):
    out = tmp_path / "tf.safetensors"
    assert main(["convert", str(PICKLE), str(out)]) == 0
    a, b = load_network(PICKLE), load_network(out)
    assert a.fingerprint == b.fingerprint and b.D is not None
    assert b.provenance["source_format"] == "nvidia-tf-pkl"


def _states():
    data = read_nvidia_pickle(PICKLE)
    return tf_state(data["G"]), tf_state(data["D"]), tf_state(data["G_ema"])


def _write(tmp_path, name, G, D, Gs):
    path = tmp_path / name
    path.write_bytes(dump_tf(G, D, Gs))
    return path


def test_build_module_src_never_runs(tmp_path):
    """Every network in the file carries source that would exit the process if it ran."""
    G, D, Gs = _states()
    assert "SystemExit" in Gs["build_module_src"]
    net = load_network(_write(tmp_path, "src.pkl", G, D, Gs))
    assert net.G.img_resolution == 32


def test_a_fork_with_an_extra_layer_is_named(tmp_path):
    G, D, Gs = _states()
    Gs["components"]["synthesis"]["variables"].append(("32x32/Attention/weight", np.zeros((4, 4), np.float32)))
    with pytest.raises(ModelFormatError, match="32x32/Attention/weight"):
        load_network(_write(tmp_path, "fork.pkl", G, D, Gs))


def test_an_unknown_setting_is_named(tmp_path):
    G, D, Gs = _states()
    Gs["static_kwargs"]["attention_res"] = 16
    with pytest.raises(ModelFormatError, match="attention_res"):
        load_network(_write(tmp_path, "setting.pkl", G, D, Gs))


def test_a_missing_variable_is_named(tmp_path):
    G, D, Gs = _states()
    Gs["components"]["synthesis"]["variables"] = [
        (k, v) for k, v in Gs["components"]["synthesis"]["variables"] if k != "16x16/Conv1/mod_weight"]
    with pytest.raises(ModelFormatError, match="16x16/Conv1/mod_weight"):
        load_network(_write(tmp_path, "missing.pkl", G, D, Gs))


def test_a_first_generation_stylegan_pickle_is_told_apart(tmp_path):
    G, D, Gs = _states()
    Gs["components"]["synthesis"]["variables"].append(("4x4/Const/StyleMod/weight", np.zeros((64, 128), np.float32)))
    with pytest.raises(ModelFormatError, match="first-generation StyleGAN"):
        load_network(_write(tmp_path, "v1.pkl", G, D, Gs))


def test_a_truncated_tf_pickle_says_so(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(PICKLE.read_bytes()[:2_000_000])
    with pytest.raises(ModelFormatError, match="truncated"):
        load_network(path)


def test_variables_that_are_not_arrays_are_refused(tmp_path):
    G, D, Gs = _states()
    Gs["components"]["mapping"]["variables"][0] = ("Dense0/weight", "not an array")
    with pytest.raises(ModelFormatError, match="not a \\(name, array\\) pair"):
        load_network(_write(tmp_path, "str.pkl", G, D, Gs))
