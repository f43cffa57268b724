"""ADA augmentation pipeline and its p controller."""

from __future__ import annotations

import pytest
import torch

from studio.training.augment import AdaController, AugmentPipe, augmentation_preview

OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
       "brightness", "contrast", "lumaflip", "hue", "saturation")


def only(op: str, p: float = 1.0) -> AugmentPipe:
    """A pipe with one transform enabled, at probability p."""
    pipe = AugmentPipe(**{name: int(name == op) for name in OPS})
    pipe.p.fill_(p)
    return pipe


def images(n: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_p_zero_is_identity():
    pipe = AugmentPipe()
    x = images()
    assert pipe(x) is x
    assert torch.equal(augmentation_preview(pipe, x, 0.0), x)


def test_p_one_changes_images_but_stays_sane():
    pipe = AugmentPipe()
    pipe.p.fill_(1.0)
    x = images(16)
    y = pipe(x, generator=gen())
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y).all()
    assert not torch.allclose(y, x)
    assert (y.abs() <= 1.5).float().mean() > 0.9


def test_small_p_leaves_some_images_untouched():
    pipe = AugmentPipe()
    pipe.p.fill_(0.05)
    x = images(16)
    y = pipe(x, generator=gen(3))
    same = [torch.allclose(y[i], x[i], atol=1e-5) for i in range(16)]
    assert any(same)


def test_xflip_alone_flips_or_keeps():
    x = images(16)
    y = only("xflip")(x, generator=gen())
    flipped = 0
    for i in range(16):
        if torch.allclose(y[i], torch.flip(x[i], dims=[-1]), atol=1e-5):
            flipped += 1
        else:
            assert torch.allclose(y[i], x[i], atol=1e-5)
    assert 0 < flipped < 16


def test_rotate90_alone_is_a_quarter_turn_of_the_pattern():
    x = images(16)
    x[:, :, :4, :4] = 1.0   # a marked corner: the pattern is not rotation symmetric
    y = only("rotate90")(x, generator=gen())
    seen = set()
    for i in range(16):
        ks = [k for k in range(4) if torch.allclose(y[i], torch.rot90(x[i], k, dims=(-2, -1)), atol=1e-5)]
        assert len(ks) == 1
        seen.add(ks[0])
    assert len(seen) >= 3


def test_integer_translation_is_a_whole_pixel_shift():
    x = images(8)
    y = only("xint")(x, generator=gen())
    for i in range(8):
        # the centre region of the result is the source shifted by whole pixels
        found = False
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                shifted = torch.roll(x[i], shifts=(dy, dx), dims=(-2, -1))
                if torch.allclose(y[i, :, 8:24, 8:24], shifted[:, 8:24, 8:24], atol=1e-5):
                    found = True
        assert found


@pytest.mark.parametrize("op", ["scale", "rotate", "aniso", "xfrac", "contrast", "hue", "saturation"])
def test_each_op_changes_images(op):
    x = images(8)
    y = only(op)(x, generator=gen())
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, x, atol=1e-3)


def test_brightness_shifts_every_pixel_by_one_amount():
    x = images(8)
    y = only("brightness")(x, generator=gen())
    d = y - x
    per_image = d.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-5)
    assert torch.allclose(y.mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3)), per_image[:, 0], atol=1e-5)
    assert per_image[:, 0].abs().max() > 0.01


def test_lumaflip_inverts_luma_and_keeps_chroma():
    x = images(16)
    y = only("lumaflip")(x, generator=gen())
    lx, ly = x.mean(dim=1), y.mean(dim=1)
    flipped = 0
    for i in range(16):
        if torch.allclose(ly[i], -lx[i], atol=1e-5):
            flipped += 1
            assert torch.allclose(y[i] - ly[i], x[i] - lx[i], atol=1e-5)
        else:
            assert torch.allclose(y[i], x[i], atol=1e-5)
    assert 0 < flipped < 16


def test_saturation_keeps_luma():
    x = images(8)
    y = only("saturation")(x, generator=gen())
    assert torch.allclose(y.mean(dim=1), x.mean(dim=1), atol=1e-5)


def test_gradients_flow_to_the_images():
    pipe = AugmentPipe()
    pipe.p.fill_(1.0)
    x = images(4).requires_grad_(True)
    pipe(x, generator=gen()).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_determinism_with_generator_and_manual_seed():
    pipe = AugmentPipe()
    pipe.p.fill_(0.7)
    x = images(8)
    assert torch.equal(pipe(x, generator=gen(5)), pipe(x, generator=gen(5)))
    assert not torch.equal(pipe(x, generator=gen(5)), pipe(x, generator=gen(6)))
    torch.manual_seed(11)
    a = pipe(x)
    torch.manual_seed(11)
    assert torch.equal(a, pipe(x))


def test_preview_is_reproducible_and_restores_p():
    pipe = AugmentPipe()
    pipe.p.fill_(0.25)
    x = images(4)
    a = augmentation_preview(pipe, x, 0.8, seed=1)
    b = augmentation_preview(pipe, x, 0.8, seed=1)
    assert torch.equal(a, b) and not torch.allclose(a, x)
    assert float(pipe.p) == 0.25


def test_greyscale_images():
    pipe = AugmentPipe()
    pipe.p.fill_(1.0)
    x = images(4)[:, :1]
    y = pipe(x, generator=gen())
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_p_is_a_saved_buffer():
    pipe = AugmentPipe()
    pipe.p.fill_(0.3)
    other = AugmentPipe()
    other.load_state_dict(pipe.state_dict())
    assert float(other.p) == pytest.approx(0.3)


# -- controller ----------------------------------------------------------------------------------
def test_controller_moves_p_up_by_the_exact_step():
    pipe = AugmentPipe()
    ctl = AdaController(pipe, target=0.6, interval=4, kimg=500, batch_size=8)
    delta = 8 * 4 / (500 * 1000)
    updates = []
    for _ in range(12):
        ctl.accumulate(torch.ones(8))   # D is sure every real is real: overfitting
        r = ctl.step()
        if r is not None:
            updates.append(r)
    assert len(updates) == 3
    assert updates == pytest.approx([delta, 2 * delta, 3 * delta], abs=1e-15)
    assert ctl.rt == 1.0
    assert float(pipe.p) == pytest.approx(3 * delta, rel=1e-6)


def test_controller_moves_p_down_and_clamps_at_zero():
    pipe = AugmentPipe()
    ctl = AdaController(pipe, interval=2, kimg=1, batch_size=100, initial_p=0.5)
    delta = 100 * 2 / 1000
    assert ctl.adjustment == pytest.approx(delta)
    ps = []
    for _ in range(10):
        ctl.accumulate(-torch.ones(100))
        r = ctl.step()
        if r is not None:
            ps.append(r)
    assert ps[:2] == pytest.approx([0.5 - delta, 0.5 - 2 * delta])
    assert ps[-1] == 0.0 and min(ps) == 0.0
    assert float(pipe.p) == 0.0


def test_controller_clamps_at_one():
    pipe = AugmentPipe()
    ctl = AdaController(pipe, interval=1, kimg=0.001, batch_size=1, initial_p=0.9)
    ctl.accumulate(torch.ones(3))
    assert ctl.step() == 1.0


def test_controller_state_round_trip_continues_identically():
    def stream(i: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(i)
        return torch.randn(8, generator=g) + 0.8

    a = AdaController(AugmentPipe(), interval=4, kimg=1, batch_size=8)
    for i in range(6):   # stop mid-interval: the accumulators matter
        a.accumulate(stream(i))
        a.step()
    state = a.state_dict()
    b = AdaController(AugmentPipe(), interval=4, kimg=1, batch_size=8)
    b.load_state_dict(state)
    assert float(b.pipe.p) == float(a.pipe.p)
    for i in range(6, 30):
        for c in (a, b):
            c.accumulate(stream(i))
        assert a.step() == b.step()
        assert a.p == b.p and a.rt == b.rt


def test_gaussian_blur_keeps_flat_colour_and_smooths_detail():
    from studio.training.augment import gaussian_blur

    flat = torch.full([2, 3, 16, 16], 0.3)
    assert torch.allclose(gaussian_blur(flat, 5.0), flat, atol=1e-6)       # reflected borders: no dark rim
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1
    checker = checker.expand(1, 3, 16, 16).clone()
    blurred = gaussian_blur(checker, 2.0)
    assert blurred.abs().max() < 0.05 and abs(float(blurred.mean() - checker.mean())) < 0.02
    assert torch.equal(gaussian_blur(checker, 0.0), checker)
    x = images(2, 16).requires_grad_(True)
    gaussian_blur(x, 3.0).square().sum().backward()                         # R1 needs its gradient
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_blur_fades_linearly_to_none():
    from studio.training.augment import blur_sigma_at

    assert blur_sigma_at(0, 8, 120) == 8
    assert blur_sigma_at(30, 8, 120) == pytest.approx(6)
    assert blur_sigma_at(120, 8, 120) == 0 and blur_sigma_at(500, 8, 120) == 0
    assert blur_sigma_at(10, 0, 120) == 0 and blur_sigma_at(10, 8, 0) == 0
