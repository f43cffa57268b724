"""Blending two models layer by layer: the ends reproduce each parent, the middle mixes by layer."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.gan.blend import BlendError, blend, layer_weights, parse_weights, tensor_layers
from studio.gan.formats import load_network
from studio.gan.formats.native import save_native
from studio.gan.networks import GeneratorConfig, make_generator
from studio.gan.render import Renderer
from studio.gan.render_settings import RenderSettings


@pytest.fixture(scope="module")
def pair(tiny_model, tmp_path_factory):
    """The tiny network and a 'fine-tune' of it: the same architecture, other weights."""
    a = load_network(tiny_model)
    G = a.G.__class__(a.G.config)
    torch.manual_seed(1)
    state = {k: (v + 0.3 * torch.randn_like(v)) if v.is_floating_point() and "filter" not in k else v
             for k, v in a.G.state_dict().items()}
    G.load_state_dict(state)
    path = tmp_path_factory.mktemp("blend") / "tuned.safetensors"
    save_native(path, G)
    return tiny_model, path


def test_weights_are_interpolated_between_the_given_layers():
    assert parse_weights("0:0, 4:0.5,8:1") == {0: 0.0, 4: 0.5, 8: 1.0}
    assert layer_weights({0: 0, 4: 0.5, 8: 1}, 10) == [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1, 1]
    assert layer_weights({3: 0.2}, 5) == [0.2] * 5
    for bad in ("0:2", "x:1", "4", ""):
        with pytest.raises(BlendError):
            parse_weights(bad)


def test_every_tensor_has_its_w_layer(pair):
    G = load_network(pair[0]).G
    layers = tensor_layers(G)
    assert layers["synthesis.b4.const"] == 0 and layers["mapping.fc0.weight"] == 0
    assert layers["synthesis.b4.conv1.weight"] == 0 and layers["synthesis.b4.torgb.affine.weight"] == 1
    assert layers["synthesis.b8.conv0.weight"] == 1 and layers["synthesis.b8.conv1.noise_strength"] == 2
    assert layers["synthesis.b64.torgb.weight"] == G.num_ws - 1


def test_weights_zero_and_one_reproduce_each_parent_exactly(pair):
    A, B = load_network(pair[0]).G, load_network(pair[1]).G
    for weight, parent in ((0.0, A), (1.0, B)):
        mixed = blend(A, B, {0: weight})
        assert all(torch.equal(mixed.state_dict()[k], v) for k, v in parent.state_dict().items())
    half = blend(A, B, {0: 0.0, 4: 0.0, 5: 1.0})        # coarse from A, fine from B
    sa, sb, sh = A.state_dict(), B.state_dict(), half.state_dict()
    assert torch.equal(sh["synthesis.b8.conv0.weight"], sa["synthesis.b8.conv0.weight"])
    assert torch.equal(sh["synthesis.b64.conv1.weight"], sb["synthesis.b64.conv1.weight"])


def test_networks_that_do_not_fit_are_named(tiny_model):
    A = load_network(tiny_model).G
    other = make_generator(GeneratorConfig(z_dim=A.z_dim, w_dim=A.w_dim, img_resolution=32, channel_base=256,
                                           channel_max=16, mapping_layers=2))
    with pytest.raises(BlendError, match="resolution: 64 and 32"):
        blend(A, other, {0: 0.5})


def test_cli_blend_writes_a_network_with_its_parents_and_a_preview(pair, tmp_path, capsys):
    out = tmp_path / "blend.safetensors"
    assert main(["blend", str(pair[0]), str(pair[1]), "--weights", "0:0,4:0.5,8:1", "--out", str(out)]) == 0
    net = load_network(out)
    blend_info = net.provenance["blend"]
    assert blend_info["points"] == {"0": 0.0, "4": 0.5, "8": 1.0} and len(blend_info["layer_weights"]) == net.G.num_ws
    assert blend_info["a"]["fingerprint"] == load_network(pair[0]).fingerprint
    preview = np.asarray(Image.open(out.with_suffix(".png")))
    assert preview.shape == (3 * 64, 6 * 64, 3)
    # seed 3 of the blend, as its recipe re-creates it, differs from both parents
    settings = RenderSettings()
    images = [dict(Renderer(load_network(p), device="cpu").render_seeds([3], settings))[3] for p in (pair[0], out, pair[1])]
    assert np.abs(images[1].astype(int) - images[0]).mean() > 1 and np.abs(images[1].astype(int) - images[2]).mean() > 1
    assert main(["blend", str(pair[0]), str(pair[1]), "--weights", "0:3", "--out", str(out)]) in (1, 2)
    assert "from 0" in capsys.readouterr().err
