"""StyleGAN3 (-T and -R) renders what NVIDIA's code renders, from its pickles, with nothing executed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from studio.core.errors import ModelFormatError
from studio.gan.formats import load_network
from studio.gan.formats.nvidia import build_stylegan3, stylegan3_config
from studio.gan.networks import stylegan3
from studio.gan.networks.stylegan3 import Stylegan3Config, Stylegan3Generator, view_transform
from tests.nvidia_pickles import dump_nvidia, network_from_state, write_pickle

CASES = ["sg3t_64", "sg3r_64"]


def _quantised(img: torch.Tensor) -> np.ndarray:
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy().astype(int)


def _build(case):
    return build_stylegan3(case.meta["generator_attrs"], case.group("G"), case.meta["generator_kwargs"])


@pytest.mark.parametrize("name", CASES)
def test_mapping_and_synthesis_match_the_reference(golden, name):
    case = golden(name)
    G = _build(case)
    c = case["in.c"] if case["in.c"].numel() else None
    with torch.inference_mode():
        for i in (0, 1):
            spec = case.meta["outputs"][f"ws{i}"]
            ws = G.mapping(case["in.z"], c, truncation_psi=spec["truncation_psi"])
            assert (ws - case[f"out.ws{i}"]).abs().max() < 1e-4
            img = G.synthesis(case[f"out.ws{i}"])
            assert (img - case[f"out.img{i}"]).abs().max() < 1e-3
            # the picture a user saves: every pixel within one level of NVIDIA's
            assert np.abs(_quantised(img) - _quantised(case[f"out.img{i}"])).max() <= 1


def test_style_mixing_matches_the_reference(golden):
    case = golden("sg3t_64")
    G = _build(case)
    spec = case.meta["outputs"]["mix"]
    with torch.inference_mode():
        rows = G.mapping(case["in.mix_rows_z"], None)
        cols = G.mapping(case["in.mix_cols_z"], None)
        images = []
        for r in rows:
            for col in cols:
                w = r.clone()
                w[spec["col_styles"]] = col[spec["col_styles"]]
                images.append(G.synthesis(w[None]))
    assert (torch.cat(images) - case["out.mix"]).abs().max() < 1e-3


@pytest.mark.parametrize("name", CASES)
def test_designed_filters_are_the_ones_nvidia_stored(golden, name):
    """A network trained here (no file to read filters from) designs the same filters."""
    case = golden(name)
    config = stylegan3_config(case.meta["generator_attrs"], case.group("G"), case.meta["generator_kwargs"])
    fresh = Stylegan3Generator(config).state_dict()
    stored = case.group("G")
    filters = [k for k in stored if k.endswith("_filter")]
    assert filters and all(fresh[k].shape == stored[k].shape for k in filters)
    assert max(float((fresh[k] - stored[k]).abs().max()) for k in filters) < 1e-6


def test_a_batch_renders_each_image_as_it_renders_alone(golden):
    case = golden("sg3r_64")
    G = _build(case)
    ws = case["out.ws0"]
    with torch.inference_mode():
        together = G.synthesis(ws)
        alone = torch.cat([G.synthesis(ws[i:i + 1]) for i in range(ws.shape[0])])
    assert (together - alone).abs().max() < 1e-5


@pytest.mark.parametrize("name", CASES)
def test_working_a_few_channels_at_a_time_changes_nothing(golden, monkeypatch, name):
    """The memory bounds (the convolution made and the activation filtered in channel slices) are exact."""
    case = golden(name)
    G = _build(case)
    with torch.inference_mode():
        whole = G.synthesis(case["out.ws0"])
        monkeypatch.setattr(stylegan3, "FILTER_CHUNK_ELEMENTS", 20_000)
        monkeypatch.setattr(stylegan3, "CONV_CHUNK_ELEMENTS", 50_000)
        chunked = G.synthesis(case["out.ws0"])
    assert (whole - chunked).abs().max() < 1e-5


@pytest.mark.parametrize("name", CASES)
def test_nvidia_pickle_opens_and_renders_the_reference(golden, tmp_path, name):
    case = golden(name)
    net = load_network(write_pickle(case, tmp_path / f"{name}.pkl"))
    assert net.kind == "stylegan3" and net.format == "nvidia-pkl" and net.D is None
    assert net.G.config.variant == ("stylegan3-r" if name == "sg3r_64" else "stylegan3-t")
    with torch.inference_mode():
        img = net.G.synthesis(case["out.ws1"])
    assert (img - case["out.img1"]).abs().max() < 1e-3


def test_pickle_with_its_discriminator_keeps_it(sg3_model):
    net = load_network(sg3_model)
    assert net.D is not None and net.D.img_resolution == 64
    with torch.inference_mode():
        assert net.D(net.G(torch.randn(2, net.G.z_dim))).shape == (2, 1)


def test_view_transform_is_the_inverse_of_gen_images_matrix():
    m = view_transform((0.25, -0.5), 30.0).double()
    a = math.radians(30.0)
    forward = torch.tensor([[math.cos(a), math.sin(a), 0.25], [-math.sin(a), math.cos(a), -0.5], [0, 0, 1]],
                           dtype=torch.float64)
    assert torch.allclose(m @ forward, torch.eye(3, dtype=torch.float64), atol=1e-6)
    assert torch.equal(view_transform(), torch.eye(3))


def test_a_stored_transform_moves_the_picture(golden, tmp_path):
    """A pickle saved with a non-identity transform renders through it (as NVIDIA's G does):
    a translation by a whole number of input samples shifts the Fourier features exactly."""
    case = golden("sg3t_64")
    state = dict(case.group("G"))
    G0 = _build(case)
    state["synthesis.input.transform"] = view_transform((0.0, 0.0), 90.0)
    G1 = build_stylegan3(case.meta["generator_attrs"], state, case.meta["generator_kwargs"])
    with torch.inference_mode():
        a, b = G0.synthesis(case["out.ws0"]), G1.synthesis(case["out.ws0"])
    assert (a - b).abs().mean() > 1e-3                       # a different view ...
    assert abs(float(a.std()) - float(b.std())) < 0.5 * float(a.std())  # ... of the same kind of picture


def _pickle_with(case, path, *, attrs=None, state=None):
    attrs = attrs or case.meta["generator_attrs"]
    G = network_from_state("Generator", state or case.group("G"), attrs, case.meta["generator_kwargs"])
    path.write_bytes(dump_nvidia({"G_ema": G, "G": G, "D": None}))
    return path


def test_a_layer_that_does_not_fit_its_schedule_is_named(golden, tmp_path):
    case = golden("sg3t_64")
    attrs = {k: dict(v) for k, v in case.meta["generator_attrs"].items()}
    attrs["synthesis.L4_52_64"]["in_sampling_rate"] = 48
    with pytest.raises(ModelFormatError, match="L4_52_64 records in_sampling_rate"):
        load_network(_pickle_with(case, tmp_path / "bad-rate.pkl", attrs=attrs))


def test_filters_of_the_wrong_length_are_refused(golden, tmp_path):
    case = golden("sg3t_64")
    state = dict(case.group("G"))
    state["synthesis.L4_52_64.up_filter"] = torch.ones(7) / 7
    with pytest.raises(ModelFormatError, match=r"StyleGAN3 network: synthesis.L4_52_64.up_filter has shape \[7\]"):
        load_network(_pickle_with(case, tmp_path / "bad-filter.pkl", state=state))


def test_channels_that_disagree_between_layers_are_refused(golden, tmp_path):
    case = golden("sg3t_64")
    state = dict(case.group("G"))
    state["synthesis.L5_52_64.weight"] = torch.zeros(64, 60, 3, 3)
    with pytest.raises(ModelFormatError, match="L5_52_64.weight has shape"):
        load_network(_pickle_with(case, tmp_path / "bad-channels.pkl", state=state))


def test_a_missing_layer_is_refused(golden, tmp_path):
    case = golden("sg3t_64")
    state = {k: v for k, v in case.group("G").items() if not k.startswith("synthesis.L7_")}
    with pytest.raises(ModelFormatError, match="not numbered"):
        load_network(_pickle_with(case, tmp_path / "gap.pkl", state=state))


def test_impossible_settings_are_refused_before_allocating():
    with pytest.raises(ValueError, match="num_layers"):
        Stylegan3Config(num_layers=10_000)
    with pytest.raises(ValueError, match="img_resolution"):
        Stylegan3Config(img_resolution=1 << 20)
    with pytest.raises(ValueError, match="parameters"):
        Stylegan3Config(channel_max=4096, channel_base=1 << 24, w_dim=8)
