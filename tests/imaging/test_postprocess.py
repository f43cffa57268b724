"""Export post-processing: levels (GANscapes), auto-levels (MAGnet), colour, aspect ratio,
print sizes, strip-wise Lanczos resizing and sharpening, 16-bit output, alpha, ONNX upscaling."""

from __future__ import annotations

import itertools
import json
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import StudioError
from studio.imaging import postprocess as pp
from studio.imaging import upscale
from studio.imaging.postprocess import PostProcess, apply, levels, output_size
from studio.imaging.sizes import ASPECT_PRESETS, painting_aspect, parse_aspect, parse_print_size, print_pixels


def smooth_image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A painting-like test image: bilinear-enlarged noise in a narrowed value range."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (max(2, h // 8), max(2, w // 8), channels), dtype=np.uint8)
    bands = [np.asarray(Image.fromarray(small[:, :, i]).resize((w, h), Image.Resampling.BILINEAR))
             for i in range(channels)]
    return np.stack(bands, axis=2)


def ganscapes_levels(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """The GANscapes formula written out independently, channel by channel."""
    out = image.copy()
    for c in range(3):
        x = image[:, :, c]
        lo, hi = np.percentile(x, [low, high])
        if hi == lo:
            continue
        out[:, :, c] = np.clip(np.round((x.astype(float) - lo) * 255 / (hi - lo)), 0, 255).astype(np.uint8)
    return out


# ------------------------------------------------------------------------------------------ levels


@pytest.mark.parametrize("low,high", [(0.1, 99.9), (0.0, 100.0), (0.5, 99.5), (2.0, 98.0), (10, 60)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_levels_is_exactly_the_ganscapes_formula(low, high, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(30, 220, (37, 53, 3), dtype=np.uint8)
    image[:, :, 1] //= 3   # a dark channel, stretched more
    out = levels(image, low, high)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out, ganscapes_levels(image, low, high))


def test_levels_leaves_flat_channels_and_alpha_alone():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    image[:, :, 2] = 77                                       # flat blue
    out = levels(image)
    np.testing.assert_array_equal(out[:, :, 2], 77)
    np.testing.assert_array_equal(out[:, :, 3], image[:, :, 3])
    np.testing.assert_array_equal(out[:, :, :3], ganscapes_levels(image[:, :, :3], 0.1, 99.9))
    gray = rng.integers(50, 100, (20, 30), dtype=np.uint8)
    g = levels(gray, 1, 99)
    assert g.shape == gray.shape and g.min() == 0 and g.max() == 255


def test_levels_rejects_bad_input():
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="percentiles"):
        levels(image, 60, 40)
    with pytest.raises(ValueError, match="uint8"):
        levels(image.astype(np.float32))


def test_apply_levels_and_auto_levels():
    image = smooth_image(48, 64)
    r = apply(image, PostProcess(levels=(0.1, 99.9)))
    np.testing.assert_array_equal(r.image, ganscapes_levels(image, 0.1, 99.9))
    assert r.upscaler == "none"
    auto = apply(image, PostProcess(auto_levels=True))
    np.testing.assert_array_equal(auto.image, ganscapes_levels(image, *pp.AUTO_LEVELS_PERCENTILES))
    assert any("auto-levels" in n for n in auto.notes)
    both = apply(image, PostProcess(levels=(2, 98), auto_levels=True))   # explicit levels win
    np.testing.assert_array_equal(both.image, ganscapes_levels(image, 2, 98))


def test_colour_identity_saturation_and_gamma():
    image = smooth_image(40, 50)
    # every colour control at its neutral value: the float path changes nothing
    same = apply(image, PostProcess(saturation=1.0, gamma=1.0, bit_depth=16)).image
    np.testing.assert_array_equal(same, image.astype(np.uint16) * 257)
    ident = apply(image, PostProcess())
    np.testing.assert_array_equal(ident.image, image)
    assert ident.image is not image and ident.upscaler == "none"
    gray = apply(image, PostProcess(saturation=0.0)).image.astype(int)
    assert np.abs(gray[:, :, 0] - gray[:, :, 1]).max() <= 1 and np.abs(gray[:, :, 1] - gray[:, :, 2]).max() <= 1
    brighter = apply(image, PostProcess(gamma=2.0)).image
    assert brighter.astype(int).mean() > image.astype(int).mean() + 20
    vivid = apply(image, PostProcess(saturation=1.5)).image.astype(int)
    assert vivid.std(axis=2).mean() > image.astype(int).std(axis=2).mean()


# ---------------------------------------------------------------------------- aspect and sizes


def test_presets_and_parse_aspect():
    assert ASPECT_PRESETS["1.27:1"] == 1.27 and ASPECT_PRESETS["4:5"] == 1.25
    assert ASPECT_PRESETS["sqrt2 (A-series)"] == pytest.approx(2 ** 0.5)
    assert all(v >= 1 for v in ASPECT_PRESETS.values())
    for name, value in ASPECT_PRESETS.items():
        assert parse_aspect(name) == pytest.approx(value)
    cases = {"1.27": 1.27, "1.27:1": 1.27, "4:5": 1.25, "5:4": 1.25, "16:9": 16 / 9, " 2 x 3 ": 1.5,
             "16/9": 16 / 9, "sqrt2": 2 ** 0.5, "A4": 2 ** 0.5, "a3": 2 ** 0.5, "√2": 2 ** 0.5, "1": 1.0,
             "0.8": 1.25}
    for text, value in cases.items():
        assert parse_aspect(text) == pytest.approx(value), text
    for bad in ["", "wide", "0:5", "4:0", "-1.2", "20:1", "1.2.3", "painting"]:
        with pytest.raises(ValueError):
            parse_aspect(bad)


def test_print_sizes():
    assert parse_print_size("40x50cm") == (40.0, 50.0, "cm")
    assert parse_print_size("40 x 50 cm") == (40.0, 50.0, "cm")
    assert parse_print_size("16x20in") == (16.0, 20.0, "in")
    assert parse_print_size('16 × 20"') == (16.0, 20.0, "in")
    assert parse_print_size("400x500mm") == (40.0, 50.0, "cm")
    assert parse_print_size("29.7x42CM") == (29.7, 42.0, "cm")
    assert print_pixels(40, 50, "cm", 300) == (4724, 5906)
    assert print_pixels(16, 20, "in", 300) == (4800, 6000)
    assert print_pixels(*parse_print_size("40 x 50 cm"), 300) == (4724, 5906)
    assert print_pixels(0.5, 1.5, "in", 1) == (1, 2)              # halves round up
    for bad in ["40x50", "40cm", "x50cm", "40x50 ft", "0x50cm"]:
        with pytest.raises(ValueError):
            parse_print_size(bad)
    with pytest.raises(ValueError):
        print_pixels(40, 50, "ft", 300)
    with pytest.raises(ValueError):
        print_pixels(40, 50, "cm", 0)


def test_stretch_to_ganscapes_ratio():
    assert output_size(1024, 1024, PostProcess(aspect=1.27)) == (1300, 1024)
    assert output_size(1024, 1024, PostProcess(aspect=1.27, orientation="portrait")) == (1024, 1300)
    assert output_size(1024, 1024, PostProcess(aspect=1.0, orientation="portrait")) == (1024, 1024)
    # stretch grows one side only, whichever shape the source has
    assert output_size(1024, 512, PostProcess(aspect=1.27)) == (1024, 806)
    image = smooth_image(64, 64)
    r = apply(image, PostProcess(aspect=1.27))
    assert r.image.shape == (64, 81, 3) and r.upscaler == "lanczos"
    expected = np.asarray(Image.fromarray(image).resize((81, 64), Image.Resampling.LANCZOS))
    assert np.abs(r.image.astype(int) - expected).max() <= 1


def test_centre_crop():
    image = smooth_image(100, 100)
    assert output_size(1024, 1024, PostProcess(aspect=1.27, mode="crop")) == (1024, 806)
    r = apply(image, PostProcess(aspect=1.27, mode="crop"))
    assert r.image.shape == (79, 100, 3) and r.upscaler == "none"
    np.testing.assert_array_equal(r.image, image[10:89])
    r = apply(image, PostProcess(aspect=2.0, orientation="portrait", mode="crop"))
    np.testing.assert_array_equal(r.image, image[:, 25:75])
    assert any("centre-cropped" in n for n in r.notes)


def test_pad_with_colour():
    image = smooth_image(100, 100)
    r = apply(image, PostProcess(aspect=1.27, mode="pad", pad_color=(10, 20, 30)))
    assert r.image.shape == (100, 127, 3)
    np.testing.assert_array_equal(r.image[:, 13:113], image)
    assert (r.image[:, :13] == (10, 20, 30)).all() and (r.image[:, 113:] == (10, 20, 30)).all()
    big = apply(image, PostProcess(aspect=1.5, orientation="portrait", mode="pad", pad_color="#ff8000",
                                   long_side=300))
    assert big.image.shape == (300, 200, 3)
    assert (big.image[:50] == (255, 128, 0)).all() and (big.image[250:] == (255, 128, 0)).all()
    assert not (big.image[50:250] == (255, 128, 0)).all(axis=2).any()
    r16 = apply(image, PostProcess(aspect=1.27, mode="pad", pad_color=(10, 20, 30), bit_depth=16)).image
    assert (r16[:, 0] == (2570, 5140, 7710)).all()


def test_size_without_aspect_sets_the_shape():
    s = PostProcess(size=(4724, 5906), mode="crop")
    assert output_size(1024, 1024, s) == (4724, 5906)
    small = PostProcess(size=(40, 50), mode="pad", pad_color=(0, 0, 0))
    r = apply(smooth_image(64, 64), small).image
    assert r.shape == (50, 40, 3) and (r[:5] == 0).all() and (r[-5:] == 0).all()


@pytest.mark.parametrize("src", [(37, 23), (23, 37), (40, 40)])
def test_output_size_agrees_with_apply(src):
    w, h = src
    image = smooth_image(h, w, seed=w)
    count = 0
    for aspect, orient, mode, sizing in itertools.product(
            [None, 1.0, 1.27, 16 / 9], ["landscape", "portrait"], ["stretch", "crop", "pad"],
            [{}, {"long_side": 61}, {"long_side": 17}, {"size": (50, 30)}, {"size": (30, 50)}]):
        try:
            s = PostProcess(aspect=aspect, orientation=orient, mode=mode, **sizing)
        except ValueError:        # size contradicting the aspect
            continue
        got = apply(image, s).image
        assert (got.shape[1], got.shape[0]) == output_size(w, h, s), s
        count += 1
    assert count > 60


def test_long_side_follows_the_aspect():
    s = PostProcess(aspect=1.27, long_side=12000)
    assert output_size(1024, 1024, s) == (12000, 9449)
    assert output_size(1024, 1024, PostProcess(aspect=1.27, orientation="portrait", long_side=12000)) == (9449, 12000)
    assert output_size(800, 600, PostProcess(long_side=1600)) == (1600, 1200)


def test_painting_aspect():
    a = [painting_aspect(7) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    gen = np.random.default_rng(11)
    samples = [painting_aspect(gen) for _ in range(3000)]
    assert samples == [painting_aspect(g) for g in [np.random.default_rng(11)] for _ in range(3000)]
    ratios = np.array([r for r, _ in samples])
    assert ratios.min() >= 1.0 and ratios.max() <= 3.0
    assert 1.2 < np.median(ratios) < 1.5
    portraits = sum(o == "portrait" for _, o in samples) / len(samples)
    assert 0.2 < portraits < 0.5
    assert {o for _, o in samples} == {"landscape", "portrait"}
    r, o = painting_aspect()
    assert 1.0 <= r <= 3.0 and o in ("landscape", "portrait")


# ------------------------------------------------------------------------------------- settings


def test_settings_round_trip():
    s = PostProcess(levels=(0.1, 99.9), auto_levels=False, saturation=1.2, gamma=0.9, aspect=1.27,
                    orientation="portrait", mode="pad", pad_color=(1, 2, 3), long_side=6000,
                    upscaler="onnx:/models/x4.onnx", sharpen=0.5, bit_depth=16)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["levels"] == [0.1, 99.9] and data["pad_color"] == [1, 2, 3]
    assert PostProcess.from_dict(data) == s
    assert PostProcess.from_dict({}) == PostProcess()
    assert PostProcess().is_identity and not s.is_identity
    assert not PostProcess(bit_depth=16).is_identity and not PostProcess(sharpen=0.1).is_identity
    assert PostProcess.from_dict({"size": [4724.0, 5906], "aspect": "4:5", "orientation": "portrait"}).size == (4724, 5906)


@pytest.mark.parametrize("data,match", [
    ({"levels": [99, 1]}, "below"),
    ({"levels": [0.1]}, "pair"),
    ({"levels": [0, 101]}, "levels high"),
    ({"saturation": "lots"}, "saturation must be a number"),
    ({"gamma": 0}, "gamma"),
    ({"aspect": 0.8}, "portrait"),
    ({"aspect": "wide"}, "cannot read aspect"),
    ({"orientation": "sideways"}, "orientation"),
    ({"mode": "letterbox"}, "mode"),
    ({"pad_color": [0, 0, 300]}, "pad_color"),
    ({"pad_color": "#12"}, "pad_color"),
    ({"size": [100, 0]}, "size height"),
    ({"size": [100.5, 20]}, "whole number"),
    ({"size": [100, 100], "long_side": 100}, "not both"),
    ({"size": [1000, 1000], "aspect": 1.27}, "contradicts"),
    ({"size": [1300, 1024], "aspect": 1.27, "orientation": "portrait"}, "contradicts"),
    ({"upscaler": "bicubic"}, "upscaler"),
    ({"upscaler": "onnx:"}, "upscaler"),
    ({"sharpen": 3}, "sharpen"),
    ({"bit_depth": 12}, "bit_depth"),
    ({"auto_levels": "yes"}, "auto_levels"),
    ({"colour": 1}, "unknown post-processing setting"),
])
def test_settings_validation(data, match):
    with pytest.raises(ValueError, match=match):
        PostProcess.from_dict(data)


def test_size_matching_aspect_is_accepted():
    PostProcess(size=(4724, 5906), aspect=1.25, orientation="portrait")
    PostProcess(size=(1300, 1024), aspect=1.27)
    with pytest.raises(ValueError):
        PostProcess.from_dict([("levels", None)])  # type: ignore[arg-type]


# ------------------------------------------------------------------ resizing, depth, channels


def test_sixteen_bit_output():
    image = smooth_image(60, 60)
    r = apply(image, PostProcess(levels=(0.1, 99.9), aspect=1.27, long_side=200, bit_depth=16))
    assert r.image.dtype == np.uint16 and r.image.shape == (157, 200, 3)
    assert r.image.min() == 0 and r.image.max() == 65535
    eight = apply(image, PostProcess(levels=(0.1, 99.9), aspect=1.27, long_side=200)).image
    assert np.abs(r.image / 257 - eight).max() <= 2   # same picture; 8-bit rounds at each stage
    assert len(np.unique(r.image[:, :, 0])) > len(np.unique(eight[:, :, 0]))
    plain = apply(image, PostProcess(levels=(0.1, 99.9), bit_depth=16)).image
    lo, hi = np.percentile(image[:, :, 0], [0.1, 99.9])
    exact = np.clip((image[:, :, 0].astype(float) - lo) * 255 / (hi - lo), 0, 255)
    assert np.abs(plain[:, :, 0] / 257 - exact).max() < 0.01   # unrounded levels


def test_rgba_passes_through():
    image = smooth_image(40, 50, channels=4)
    image[:, :, 3] = 255
    image[:, :25, 3] = 0
    image[:, :25, :3] = (255, 0, 0)              # invisible red must not bleed into the blue
    image[:, 25:, :3] = (0, 0, 255)
    for depth in (8, 16):
        r = apply(image, PostProcess(levels=(0.1, 99.9), size=(200, 160), sharpen=0.5, bit_depth=depth))
        out = r.image.astype(float) / (257 if depth == 16 else 1)
        assert out.shape == (160, 200, 4)
        assert out[:, :90, 3].max() <= 1 and out[:, 110:, 3].min() >= 254
        opaque = out[:, :, 3] > 128
        assert out[opaque][:, 0].max() <= 2 and out[opaque][:, 2].min() >= 250
    same_alpha = apply(image, PostProcess(levels=(0.1, 99.9))).image
    np.testing.assert_array_equal(same_alpha[:, :, 3], image[:, :, 3])


@pytest.mark.parametrize("shape", [(30, 40), (30, 40, 1), (30, 40, 2)])
def test_grayscale(shape):
    image = smooth_image(30, 40, channels=shape[2] if len(shape) == 3 else 1).reshape(shape)
    for depth in (8, 16):
        s = PostProcess(levels=(1, 99), saturation=1.3, aspect=1.5, orientation="portrait", mode="pad",
                        long_side=90, sharpen=0.3, bit_depth=depth)
        r = apply(image, s)
        assert r.image.shape == (90, 60) + shape[2:]
        assert any("grayscale" in n for n in r.notes)


def test_upscaler_names_and_progress():
    image = smooth_image(32, 32)
    seen: list[tuple[float, str]] = []
    r = apply(image, PostProcess(long_side=100, sharpen=0.5), progress=lambda f, s: seen.append((f, s)))
    assert r.upscaler == "lanczos+sharpen"
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert apply(image, PostProcess(long_side=100)).upscaler == "lanczos"
    assert apply(image, PostProcess(long_side=20)).upscaler == "lanczos"
    assert apply(image, PostProcess(sharpen=1.0)).upscaler == "sharpen"
    assert apply(image, PostProcess(levels=(1, 99))).upscaler == "none"

    def cancel(fraction, stage):
        if stage == "resizing":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply(image, PostProcess(long_side=100), progress=cancel)


@pytest.mark.parametrize("depth", [8, 16])
def test_strips_match_the_whole_image(monkeypatch, depth):
    image = smooth_image(50, 60)
    for s in [PostProcess(sharpen=1.0, bit_depth=depth),
              PostProcess(size=(300, 250), sharpen=0.8, bit_depth=depth),
              PostProcess(size=(45, 37), bit_depth=depth)]:
        whole = apply(image, s).image.astype(int)
        monkeypatch.setattr(pp, "_STRIP_PIXELS", 1)          # 16-row strips
        strips = apply(image, s).image.astype(int)
        monkeypatch.undo()
        step = 257 if depth == 16 else 1
        if s.size is None:                                   # no resampling: exactly equal
            np.testing.assert_array_equal(strips, whole)
        else:   # Pillow takes the strip's box as float32: taps move by ~1e-6 px
            assert np.abs(strips - whole).max() <= 3 * step


@pytest.mark.parametrize("depth", [8, 16])
def test_wide_sharpening_strips_are_seamless(monkeypatch, depth):
    """A 4 px radius (the largest) needs the biggest halo; strips must still join exactly."""
    image = smooth_image(90, 70, seed=5)
    monkeypatch.setattr(pp, "_sharpen_sigma", lambda scale: 4.0)
    s = PostProcess(sharpen=2.0, bit_depth=depth)
    whole = apply(image, s).image
    monkeypatch.setattr(pp, "_STRIP_PIXELS", 1)
    np.testing.assert_array_equal(apply(image, s).image, whole)
    assert np.abs(whole.astype(float) / (257 if depth == 16 else 1) - image).max() > 5   # it did sharpen


def test_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        apply(np.zeros((4, 4, 3), np.float32), PostProcess(levels=(1, 99)))
    with pytest.raises(ValueError, match="channels"):
        apply(np.zeros((4, 4, 5), np.uint8), PostProcess(levels=(1, 99)))


# ------------------------------------------------------------------------------------------ ONNX


def _export_model(tmp_path, name: str, blur: bool, fixed: tuple[int, int] | None = None):
    """A tiny x2 'super-resolution' model: optional fixed 3x3 blur, then a 1x1 conv whose
    weights copy each colour into the 4 sub-pixels, then PixelShuffle(2) (nearest x2)."""
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed (the [onnx] extra)")
    pytest.importorskip("onnx", reason="torch.onnx.export needs the onnx package")
    import torch
    from torch import nn

    class TinySR(nn.Module):
        def __init__(self):
            super().__init__()
            self.blur = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
            self.expand = nn.Conv2d(3, 12, 1, bias=False)
            self.shuffle = nn.PixelShuffle(2)
            with torch.no_grad():
                k = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
                self.blur.weight.copy_(k.expand(3, 1, 3, 3))
                self.expand.weight.zero_()
                for c in range(3):
                    self.expand.weight[c * 4:(c + 1) * 4, c] = 1.0

        def forward(self, x):
            return self.shuffle(self.expand(self.blur(x) if blur else x))

    path = tmp_path / name
    shape = (1, 3) + (fixed or (16, 16))
    kwargs = dict(input_names=["input"], output_names=["output"], opset_version=17)
    if fixed is None:
        kwargs["dynamic_axes"] = {"input": {2: "h", 3: "w"}, "output": {2: "H", 3: "W"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                torch.onnx.export(TinySR().eval(), (torch.rand(shape),), str(path), dynamo=False, **kwargs)
            except TypeError:   # torch without the dynamo switch
                torch.onnx.export(TinySR().eval(), (torch.rand(shape),), str(path), **kwargs)
        except Exception as exc:   # pragma: no cover - depends on the installed exporter
            pytest.skip(f"torch.onnx.export could not build the test model offline: {exc}")
    return path


def test_onnx_upscaler_tiles_exactly(tmp_path):
    path = _export_model(tmp_path, "blur_x2.onnx", blur=True)
    image = smooth_image(45, 70)
    whole = upscale.OnnxUpscaler(path, tile=512)
    assert whole.scale == 2 and whole.provider == "CPUExecutionProvider"
    assert whole.describe() == "onnx:blur_x2.onnx (CPUExecutionProvider)"
    tiled = upscale.OnnxUpscaler(path, tile=16, overlap=4)
    a, b = whole.upscale(image), tiled.upscale(image)
    assert a.shape == (90, 140, 3) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-3


def test_onnx_nearest_and_fixed_size(tmp_path):
    image = smooth_image(37, 23)
    nearest = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1).astype(np.float32)
    dynamic = upscale.OnnxUpscaler(_export_model(tmp_path, "nn_x2.onnx", blur=False))
    assert np.abs(dynamic.upscale(image) - nearest).max() < 1e-3
    fixed = upscale.OnnxUpscaler(_export_model(tmp_path, "nn_x2_16.onnx", blur=False, fixed=(16, 16)))
    assert fixed.fixed == (16, 16) and fixed.scale == 2
    assert np.abs(fixed.upscale(image) - nearest).max() < 1e-3


def test_apply_with_onnx(tmp_path):
    path = _export_model(tmp_path, "nn_x2.onnx", blur=False)
    image = smooth_image(30, 40, channels=4)
    r = apply(image, PostProcess(upscaler=f"onnx:{path}", size=(80, 60), bit_depth=8))
    assert r.upscaler == "onnx:nn_x2.onnx (CPUExecutionProvider)"     # exactly x2: no Lanczos
    np.testing.assert_array_equal(r.image[:, :, :3], np.repeat(np.repeat(image[:, :, :3], 2, axis=0), 2, axis=1))
    alpha = Image.fromarray(np.ascontiguousarray(image[:, :, 3])).resize((80, 60), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(r.image[:, :, 3], np.asarray(alpha))    # alpha follows by Lanczos
    r = apply(image, PostProcess(upscaler=f"onnx:{path}", long_side=100, sharpen=0.5, bit_depth=16))
    assert r.upscaler == "onnx:nn_x2.onnx (CPUExecutionProvider)+lanczos+sharpen"
    assert r.image.shape == (75, 100, 4) and r.image.dtype == np.uint16
    small = apply(image, PostProcess(upscaler=f"onnx:{path}", long_side=20))
    assert small.upscaler == "lanczos" and any("not used" in n for n in small.notes)
    gray = apply(image[:, :, 0], PostProcess(upscaler=f"onnx:{path}", long_side=80))
    assert gray.image.shape == (60, 80)


def test_onnx_memory_budget_shrinks_the_source_first(tmp_path, monkeypatch):
    path = _export_model(tmp_path, "nn_x2.onnx", blur=False)
    image = smooth_image(40, 60, channels=4)
    monkeypatch.setattr(pp, "_SR_MAX_PIXELS", {8: 60 * 40, 16: 60 * 40})
    for depth in (8, 16):
        r = apply(image, PostProcess(upscaler=f"onnx:{path}", long_side=150, bit_depth=depth))
        assert r.image.shape == (100, 150, 4)
        assert any("source reduced to 30x20" in n for n in r.notes)
    up = upscale.load_upscaler(path)
    assert up is upscale.load_upscaler(path)                       # sessions are reused
    into = np.zeros((80, 120, 4), np.uint8)
    up.upscale(image[:, :, :3], out=into[:, :, :3])
    np.testing.assert_array_equal(into[:, :, :3], np.repeat(np.repeat(image[:, :, :3], 2, axis=0), 2, axis=1))
    assert (into[:, :, 3] == 0).all()


def test_onnx_reports_the_provider_that_really_runs(tmp_path, monkeypatch):
    path = _export_model(tmp_path, "nn_x2.onnx", blur=False)
    import onnxruntime as ort

    real = ort.InferenceSession
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", lambda p, providers: real(p, providers=["CPUExecutionProvider"]))
    up = upscale.OnnxUpscaler(path)
    assert up.provider == "CPUExecutionProvider" and "fell back" in up.notes[0]

    def broken_cuda(p, providers):
        if "CUDAExecutionProvider" in providers:
            raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected")
        return real(p, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", broken_cuda)
    up = upscale.OnnxUpscaler(path)
    assert up.provider == "CPUExecutionProvider" and "failed" in up.notes[0]


def test_onnx_errors(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.onnx"
    with pytest.raises(StudioError, match="not found"):
        apply(smooth_image(10, 10), PostProcess(upscaler=f"onnx:{missing}", long_side=40))
    missing.write_bytes(b"not a model")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)      # as if not installed
    with pytest.raises(StudioError, match=r"pip install gan-art-studio\[onnx\]"):
        upscale.OnnxUpscaler(missing)
