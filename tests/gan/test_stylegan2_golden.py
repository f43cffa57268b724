"""The StyleGAN2 networks reproduce the reference implementation's numbers (../shared/golden)."""

from __future__ import annotations

import pytest
import torch

from studio.gan.formats.nvidia import build_discriminator, build_generator

NVIDIA_CASES = ["sg2ada_skip32", "sg2ada_resnet64_cond", "sg2ada_orig128_rgba"]
WS_TOL, IMG_TOL = 1e-4, 1e-3


def _generator(case):
    return build_generator(case.meta["generator_attrs"], case.group("G"))


@pytest.mark.parametrize("name", NVIDIA_CASES)
def test_mapping_and_synthesis_match_reference(golden, name):
    case = golden(name)
    G = _generator(case)
    z, c = case["in.z"], case["in.c"]
    outputs = case.meta["outputs"]
    checked = 0
    with torch.inference_mode():
        for i in range(8):
            ws_key, img_key = f"ws{i}", f"img{i}"
            if ws_key not in outputs:
                continue
            spec = outputs[ws_key]
            ws = G.mapping(z, c, truncation_psi=spec["truncation_psi"], truncation_cutoff=spec["truncation_cutoff"])
            assert (ws - case[f"out.{ws_key}"]).abs().max() < WS_TOL
            if img_key in outputs:
                img = G.synthesis(ws, noise_mode=outputs[img_key]["noise_mode"])
                assert img.shape == case[f"out.{img_key}"].shape
                err = (img - case[f"out.{img_key}"]).abs().max().item()
                assert err < IMG_TOL, f"{img_key}: max abs error {err}"
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize("fused", [True, False])
def test_fused_and_unfused_modulation_agree(golden, fused):
    case = golden("sg2ada_skip32")
    G = _generator(case)
    with torch.inference_mode():
        ws = G.mapping(case["in.z"], case["in.c"])
        img = G.synthesis(ws, noise_mode="const", fused=fused)
    assert (img - case["out.img0"]).abs().max() < IMG_TOL


@pytest.mark.parametrize("name", NVIDIA_CASES)
def test_discriminator_matches_reference(golden, name):
    case = golden(name)
    D = build_discriminator(case.meta["discriminator_attrs"], case.group("D"))
    with torch.inference_mode():
        logits = D(case["out.img0"], case["in.c"])
    assert logits.shape == case["out.d0"].shape
    assert (logits - case["out.d0"]).abs().max() < IMG_TOL


def test_style_mixing_matches_reference(golden):
    from studio.gan.latents import mix_styles

    case = golden("sg2ada_skip32")
    spec = case.meta["outputs"]["mix"]
    G = _generator(case)
    with torch.inference_mode():
        row_ws = G.mapping(case["in.mix_rows_z"], None)
        col_ws = G.mapping(case["in.mix_cols_z"], None)
        ws = mix_styles(row_ws, col_ws, spec["col_styles"])
        img = G.synthesis(ws, noise_mode=spec["noise_mode"])
    assert (img - case["out.mix"]).abs().max() < IMG_TOL


@pytest.mark.parametrize("name", NVIDIA_CASES)
@pytest.mark.parametrize("noise_mode", ["const", "random", "none"])
def test_inference_fast_path_equals_training_path(golden, name, noise_mode):
    """Rendering (no grad: folded gains, per-image weights at high resolution) = the plain path."""
    case = golden(name)
    G = _generator(case)
    z, c = case["in.z"][:3], case["in.c"][:3]

    def generators():
        return [torch.Generator().manual_seed(100 + i) for i in range(z.shape[0])]

    with torch.enable_grad():
        ws = G.mapping(z, c, truncation_psi=0.8).detach()
        plain = G.synthesis(ws, noise_mode=noise_mode, noise_generator=generators()).detach()
    with torch.inference_mode():
        fast = G.synthesis(ws, noise_mode=noise_mode, noise_generator=generators())
    assert (fast - plain).abs().max() < 1e-4
    one = torch.inference_mode()(G.synthesis)(ws[1:2], noise_mode=noise_mode, noise_generator=generators()[1:2])
    assert (one - plain[1:2]).abs().max() < 1e-4  # an image does not depend on its batch


def test_early_exit_gives_the_skip_image_of_a_lower_block(golden):
    case = golden("sg2ada_skip32")
    G = _generator(case)
    with torch.inference_mode():
        ws = G.mapping(case["in.z"], None)
        preview = G.synthesis(ws, max_resolution=16)
        full = G.synthesis(ws)
    assert preview.shape[-1] == 16 and full.shape[-1] == 32
    # the preview is the image the full render upsamples and refines: close after downsampling
    down = torch.nn.functional.avg_pool2d(full, 2)
    assert (preview - down).abs().mean() < (full - full.mean()).abs().mean()


def test_shapes_are_checked_where_modules_meet():
    """A tensor of the wrong shape fails at the seam, naming what was expected."""
    from studio.gan.networks import Discriminator, DiscriminatorConfig, GeneratorConfig, make_generator

    G = make_generator(GeneratorConfig(z_dim=8, w_dim=8, c_dim=3, img_resolution=8, mapping_layers=1,
                                       channel_base=64, channel_max=8))
    with pytest.raises(ValueError, match=r"z must have shape \[N, 8\], got \[2, 7\]"):
        G.mapping(torch.zeros(2, 7), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="the class label c is missing"):
        G.mapping(torch.zeros(2, 8), None)
    with pytest.raises(ValueError, match=r"ws must have shape \[N, 4, 8\]"):
        G.synthesis(torch.zeros(1, 3, 8))
    D = Discriminator(DiscriminatorConfig(img_resolution=8, channel_base=64, channel_max=8))
    with pytest.raises(ValueError, match=r"the image must have shape \[N, 3, 8, 8\], got \[1, 3, 16, 16\]"):
        D(torch.zeros(1, 3, 16, 16))
