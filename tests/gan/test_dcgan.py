"""The DCGAN generator and discriminator, and a DCGAN opening in the studio like any model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.gan.formats import load_network
from studio.gan.formats.native import fingerprint, load_native, read_native, save_native
from studio.gan.networks import (
    DcganDiscriminator,
    DcganDiscriminatorConfig,
    DcganGenerator,
    GeneratorConfig,
    discriminator_config_from_dict,
    make_discriminator,
    make_generator,
)
from studio.gan.networks.dcgan import dcgan_channels
from studio.gan.networks.stylegan2 import Discriminator, DiscriminatorConfig


def tiny_config(res: int = 64, **kw) -> GeneratorConfig:
    settings = dict(kind="dcgan", z_dim=16, w_dim=16, img_resolution=res, mapping_layers=0, channel_base=4,
                    channel_max=16)
    settings.update(kw)
    return GeneratorConfig(**settings)


def tiny_networks(res: int = 64, seed: int = 0):
    torch.manual_seed(seed)
    G = make_generator(tiny_config(res))
    D = make_discriminator(DcganDiscriminatorConfig(img_resolution=res, channel_base=4, channel_max=16))
    # a few training-mode passes give the batch norms running statistics worth saving
    with torch.no_grad():
        for _ in range(3):
            G(torch.randn(4, 16))
    return G.eval().requires_grad_(False), D.eval().requires_grad_(False)


def test_the_tutorial_layout_and_parameter_counts():
    G = make_generator(GeneratorConfig(kind="dcgan", z_dim=100, w_dim=100, img_resolution=64, mapping_layers=0,
                                       channel_base=64, channel_max=512))
    D = DcganDiscriminator(DcganDiscriminatorConfig(img_resolution=64))
    assert isinstance(G, DcganGenerator)
    assert G.synthesis.channels == {4: 512, 8: 256, 16: 128, 32: 64}
    assert sum(p.numel() for p in G.parameters()) == 3_576_704     # the tutorial's netG
    assert sum(p.numel() for p in D.parameters()) == 2_765_568     # the tutorial's netD
    assert dcgan_channels(128, 64, 512) == {4: 512, 8: 512, 16: 256, 32: 128, 64: 64}


@pytest.mark.parametrize("res", [64, 128])
def test_generator_interface_and_images_in_range(res):
    G, D = tiny_networks(res)
    assert (G.z_dim, G.c_dim, G.w_dim, G.num_ws, G.img_resolution, G.img_channels) == (16, 0, 16, 1, res, 3)
    assert G.synthesis.preview_resolutions() == [res]
    z = torch.randn(5, 16)
    ws = G.mapping(z, None, update_w_avg=True)
    assert ws.shape == (5, 1, 16) and torch.equal(ws[:, 0], z)
    with torch.no_grad():
        img = G.synthesis(ws, noise_mode="random", noise_generator=None, fused=None, max_resolution=32)
        assert torch.equal(img, G(z, None, noise_mode="const"))
        logits = D(img)
    assert img.shape == (5, 3, res, res) and img.min() >= -1 and img.max() <= 1
    assert logits.shape == (5, 1) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="ws must have shape"):
        G.synthesis(torch.zeros(1, 2, 16))


def test_inference_uses_running_statistics():
    G, _ = tiny_networks()
    z = torch.randn(4, 16)
    with torch.no_grad():
        batch = G(z)
        one = G(z[:1])
    assert torch.allclose(batch[:1], one, atol=1e-6)   # eval-mode batch norm: an image ignores its batch


def test_truncation_psi_zero_gives_one_image_for_every_z():
    G, _ = tiny_networks()
    assert torch.equal(G.w_avg, torch.zeros(16))
    with torch.no_grad():
        img = G(torch.randn(4, 16), None, truncation_psi=0)
        half = G.mapping(torch.ones(2, 16), None, truncation_psi=0.5)
    assert torch.allclose(img, img[:1].expand_as(img))
    assert torch.allclose(half, torch.full((2, 1, 16), 0.5))


def test_native_round_trip_load_network_and_render(tmp_path):
    from studio.gan.render import Renderer
    from studio.gan.render_settings import RenderSettings

    G, D = tiny_networks()
    path = tmp_path / "dcgan.safetensors"
    fp = save_native(path, G, D, provenance={"source_format": "test"})
    assert fp == fingerprint(G)
    _, meta = read_native(path)
    assert meta["kind"] == "dcgan" and json.loads(meta["discriminator_config"])["kind"] == "dcgan"
    assert any(k.endswith("running_mean") for k in G.state_dict())   # batch-norm statistics are saved

    G2, D2, info = load_native(path)
    assert isinstance(G2, DcganGenerator) and isinstance(D2, DcganDiscriminator) and not G2.training
    assert info["fingerprint"] == fp == fingerprint(G2)
    z = torch.randn(3, 16)
    with torch.no_grad():
        assert torch.equal(G(z), G2(z))
        img = G(z)
        assert torch.equal(D(img), D2(img))

    net = load_network(path)
    assert net.kind == "dcgan" and net.fingerprint == fp and net.summary()["num_ws"] == 1
    renderer = Renderer(net, device="cpu", batch_size=2)
    out = dict(renderer.render_seeds([0, 1, 2], RenderSettings(truncation_psi=0.7)))
    assert sorted(out) == [0, 1, 2]
    assert all(a.shape == (64, 64, 3) and a.dtype == np.uint8 for a in out.values())
    again = dict(renderer.render_seeds([1], RenderSettings(truncation_psi=0.7)))
    assert np.array_equal(again[1], out[1])                           # a seed is always the same picture
    flat = dict(renderer.render_seeds([3, 4], RenderSettings(truncation_psi=0)))
    assert np.array_equal(flat[3], flat[4])

    half = tmp_path / "half.safetensors"
    save_native(half, G, None, half=True)
    assert load_network(half).D is None


def test_discriminator_configs_pick_their_class_and_old_files_still_load():
    old = DiscriminatorConfig(img_resolution=16, channel_base=256, channel_max=16).to_dict()
    assert "kind" not in old                                          # StyleGAN2 configs are stored as before
    assert isinstance(make_discriminator(old), Discriminator)
    assert isinstance(discriminator_config_from_dict({**old, "kind": "stylegan2"}), DiscriminatorConfig)
    cfg = DcganDiscriminatorConfig(img_resolution=128, channel_base=4)
    assert discriminator_config_from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="unknown discriminator kind"):
        discriminator_config_from_dict({"kind": "biggan"})
