"""Post-processing for export: levels, colour, aspect ratio, print size, upscaling, sharpening.

The chain ``apply()`` runs, in this order:

1. **Levels** (GANscapes): per colour channel, the ``low``-th percentile maps to 0 and the
   ``high``-th to 255: ``(x - lo) * 255 / (hi - lo)``, rounded and clipped. **Auto-levels**
   (MAGnet's automatic contrast) is the same stretch at fixed percentiles 0.5 / 99.5.
2. **Saturation and gamma**, at source resolution in float32.
3. **Aspect reshape** to a long:short ratio: *stretch* (resize to the ratio; undoes a training
   set squeezed to a square, as GANscapes does with 1.27:1), *crop* (centred), or *pad* (with a
   colour).
4. **Resize** to the final size: Lanczos, or a user's super-resolution ONNX model followed by
   Lanczos to the exact size.
5. **Sharpen** (unsharp mask).

Everything is off by default: ``PostProcess()`` changes nothing.

Memory: the final resize and sharpening run in horizontal strips written straight into the
output array, so a 12000 px export holds the output plus a few strips, never a float32 copy of
the whole output (``benchmarks/export_memory.py`` measures it). 8-bit output resamples uint8 with
Pillow; 16-bit output resamples each channel as float32 strips and keeps the unrounded values of
levels, colour and resizing until the final conversion (``x * 257``).

Images are numpy arrays: ``[H, W]`` (grayscale) or ``[H, W, C]`` with C = 1 (L), 2 (LA),
3 (RGB) or 4 (RGBA), uint8. The alpha channel is never stretched or sharpened; it is resized
with the colour (premultiplied, so transparent pixels do not bleed their colour).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from PIL import Image, ImageFilter

from studio.core.errors import StudioError
from studio.imaging.sizes import MAX_ASPECT, MAX_SIDE, parse_aspect, round_half_up
from studio.imaging.upscale import OnnxUpscaler, load_upscaler

ProgressFn = Callable[[float, str], None]
"""``progress(fraction, stage)``: fraction of the whole chain done, 0..1, and what runs now.
An exception raised by the callback aborts ``apply()`` (that is how a caller cancels)."""


AUTO_LEVELS_PERCENTILES = (0.5, 99.5)
"""Auto-levels (MAGnet's automatic contrast) is the levels stretch at these percentiles: a
little more clipping than GANscapes' 0.1 / 99.9 so that a few stray pixels of a generated image
(specks, artefacts) do not hold the stretch back, but not so much that highlights burn out.
MAGnet's article does not give its percentiles; this is the studio's choice."""

MODES = ("stretch", "crop", "pad")
PEAK_FACTOR = 2.5
"""Peak memory of the chain over the output array's size (measured: a 30000 x 30000 px RGB export,
2.7 GB of pixels, peaked at 6.3 GB)."""
CROP_WARNING = 0.10
"""A crop that discards more than this share of the picture says so in the notes."""
ORIENTATIONS = ("landscape", "portrait")
"""Largest output side accepted (a sanity bound; file formats have their own lower limits)."""

_LUMA = (0.299, 0.587, 0.114)   # Rec. 601, as Pillow's "L" conversion and ImageEnhance.Color



# ---------------------------------------------------------------------------------------------
# Aspect ratios and print sizes



# ---------------------------------------------------------------------------------------------
# Settings


def _number(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        bound = f"> {lo:g}" if lo_open else f">= {lo:g}"
        raise ValueError(f"{name} must be {bound} and <= {hi:g}, got {value!r}")
    return value


def _integer(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or float(value) != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _pair(name: str, value: Any) -> tuple[Any, Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
    return value[0], value[1]


def _colour(value: Any) -> tuple[int, int, int]:
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if re.fullmatch(r"[0-9a-fA-F]{6}", text):
            return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
        raise ValueError(f"pad_color must be (r, g, b) or '#rrggbb', got {value!r}")
    if not hasattr(value, "__len__") or len(value) != 3:
        raise ValueError(f"pad_color must be (r, g, b) or '#rrggbb', got {value!r}")
    return tuple(_integer("pad_color component", v, 0, 255) for v in value)  # type: ignore[return-value]


@dataclass(frozen=True)
class PostProcess:
    """Export post-processing settings. The defaults change nothing (``is_identity``).

    Construction validates and normalises (lists become tuples, whole floats ints) and raises
    ValueError with a message meant for the user; ``from_dict`` does the same for saved
    settings, rejecting unknown keys.

    Geometry: ``aspect`` (long:short, >= 1) and ``orientation`` give the target shape, ``mode``
    how the source gets there; ``size`` (exact pixels) or ``long_side`` give the final pixels.
    With ``size`` and no ``aspect``, the shape is the size's own (so a 40 x 50 cm print crops,
    pads or stretches to 4:5); with both, they must agree to within 1 % (or a pixel), otherwise
    the image would be silently distorted. Without ``size``/``long_side`` the result keeps the
    source's scale: stretch and pad grow one side, crop shrinks one.
    """

    levels: tuple[float, float] | None = None
    auto_levels: bool = False
    saturation: float = 1.0
    gamma: float = 1.0
    aspect: float | None = None
    orientation: str = "landscape"
    mode: str = "stretch"
    pad_color: tuple[int, int, int] = (255, 255, 255)
    size: tuple[int, int] | None = None
    long_side: int | None = None
    upscaler: str = "lanczos"
    sharpen: float = 0.0
    bit_depth: int = 8

    def __post_init__(self) -> None:
        put = functools.partial(object.__setattr__, self)
        if self.levels is not None:
            low, high = _pair("levels", self.levels)
            low = _number("levels low percentile", low, 0.0, 100.0)
            high = _number("levels high percentile", high, 0.0, 100.0)
            if not low < high:
                raise ValueError(f"levels low percentile must be below the high one, got {low:g} / {high:g}")
            put("levels", (low, high))
        if not isinstance(self.auto_levels, (bool, np.bool_)):
            raise ValueError(f"auto_levels must be true or false, got {self.auto_levels!r}")
        put("auto_levels", bool(self.auto_levels))
        put("saturation", _number("saturation", self.saturation, 0.0, 4.0))
        put("gamma", _number("gamma", self.gamma, 0.1, 10.0))
        if self.aspect is not None:
            aspect = self.aspect
            if isinstance(aspect, str):
                aspect = parse_aspect(aspect)
            aspect = _number("aspect", aspect, 0.0, MAX_ASPECT, lo_open=True)
            if aspect < 1.0:
                raise ValueError(f"aspect is a long:short ratio >= 1 (got {aspect:g}); "
                                 f"use {1 / aspect:.4g} with orientation 'portrait' or 'landscape'")
            put("aspect", aspect)
        if self.orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be 'landscape' or 'portrait', got {self.orientation!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        put("pad_color", _colour(self.pad_color))
        if self.size is not None:
            w, h = _pair("size", self.size)
            put("size", (_integer("size width", w, 1, MAX_SIDE), _integer("size height", h, 1, MAX_SIDE)))
        if self.long_side is not None:
            put("long_side", _integer("long_side", self.long_side, 1, MAX_SIDE))
        if self.size is not None and self.long_side is not None:
            raise ValueError("give either size (exact pixels) or long_side, not both")
        if self.size is not None and self.aspect is not None:
            w, h = self.size
            t = self.target_ratio()
            assert t is not None
            if not (abs(w - h * t) <= 1.0 or abs(h - w / t) <= 1.0 or abs((w / h) / t - 1.0) <= 0.01):
                shape = "portrait" if h > w else "landscape"
                raise ValueError(
                    f"size {w}x{h} is {max(w, h) / min(w, h):.3f}:1 {shape}, which contradicts aspect "
                    f"{self.aspect:.4g}:1 {self.orientation}; give only one of them, or matching ones")
        if not isinstance(self.upscaler, str) or not (
                self.upscaler == "lanczos" or (self.upscaler.startswith("onnx:") and self.upscaler[5:].strip())):
            raise ValueError(f"upscaler must be 'lanczos' or 'onnx:/path/to/model.onnx', got {self.upscaler!r}")
        put("sharpen", _number("sharpen", self.sharpen, 0.0, 2.0))
        if self.bit_depth not in (8, 16) or isinstance(self.bit_depth, bool):
            raise ValueError(f"bit_depth must be 8 or 16, got {self.bit_depth!r}")
        put("bit_depth", int(self.bit_depth))

    def target_ratio(self) -> float | None:
        """The target width / height (below 1 for portrait), or None to keep the source's."""
        if self.aspect is not None:
            if self.orientation == "portrait" and self.aspect != 1.0:
                return 1.0 / self.aspect
            return self.aspect
        if self.size is not None:
            return self.size[0] / self.size[1]
        return None

    @property
    def colour_is_identity(self) -> bool:
        return self.levels is None and not self.auto_levels and self.saturation == 1.0 and self.gamma == 1.0

    @property
    def is_identity(self) -> bool:
        """True when ``apply`` returns the image unchanged whatever its size."""
        return (self.colour_is_identity and self.aspect is None and self.size is None
                and self.long_side is None and self.sharpen == 0.0 and self.bit_depth == 8)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists); ``from_dict`` reads it back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PostProcess":
        """Settings from a dict (missing keys take their defaults); ValueError on unknown keys
        or invalid values."""
        if not isinstance(data, Mapping):
            raise ValueError(f"post-processing settings must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown post-processing setting(s): {', '.join(map(str, unknown))} "
                             f"(known: {', '.join(sorted(known))})")
        return cls(**dict(data))


@dataclass
class PostResult:
    """What ``apply`` produced: the image, the resampler actually used, and what was done."""

    image: np.ndarray
    upscaler: str
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Colour


def _check_image(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W] or [H, W, C], C in 1..4 -> a [H, W, C] view."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image array, got {getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"expected an image [H, W] or [H, W, C] with 1 to 4 channels, got shape {image.shape}")
    return image


def _colour_channels(channels: int) -> int:
    """How many leading channels carry colour (the rest is alpha)."""
    return {1: 1, 2: 1, 3: 3, 4: 3}[channels]


def _check_percentiles(low: float, high: float) -> None:
    if not (0.0 <= low < high <= 100.0):
        raise ValueError(f"levels percentiles must satisfy 0 <= low < high <= 100, got {low!r} / {high!r}")


def levels(image: np.ndarray, low: float = 0.1, high: float = 99.9) -> np.ndarray:
    """GANscapes' levels: per colour channel, stretch the ``low``..``high`` percentile range to 0..255.

    Exactly ``lo, hi = np.percentile(x, [low, high])`` and
    ``np.clip(np.round((x.astype(float) - lo) * 255 / (hi - lo)), 0, 255).astype(np.uint8)``
    per channel; a flat channel (``hi == lo``) is left unchanged; alpha is left unchanged.
    uint8 in, uint8 out (a new array, same shape).
    """
    _check_percentiles(low, high)
    src = _check_image(image)
    out = src.copy()
    for c in range(_colour_channels(src.shape[2])):
        x = src[:, :, c]
        lo, hi = np.percentile(x, [low, high])
        if hi == lo:
            continue
        out[:, :, c] = np.clip(np.round((x.astype(float) - lo) * 255 / (hi - lo)), 0, 255).astype(np.uint8)
    return out.reshape(image.shape)


def _levels_float(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """The levels stretch without the rounding: float32 [H, W, C] in 0..255 (alpha copied)."""
    out = image.astype(np.float32)
    for c in range(_colour_channels(image.shape[2])):
        x = image[:, :, c]
        lo, hi = np.percentile(x, [low, high])
        if hi != lo:
            out[:, :, c] = np.clip((x.astype(float) - lo) * 255 / (hi - lo), 0, 255)
    return out


def _saturation_gamma(x: np.ndarray, saturation: float, gamma: float) -> None:
    """In place on float32 [H, W, C] 0..255: blend with Rec. 601 luma, then ``255 (x/255)^(1/gamma)``
    (gamma > 1 brightens the midtones, as Photoshop's Levels middle slider)."""
    if saturation != 1.0 and x.shape[2] >= 3:
        rgb = x[:, :, :3]
        luma = rgb @ np.asarray(_LUMA, dtype=np.float32)
        rgb -= luma[:, :, None]
        rgb *= np.float32(saturation)
        rgb += luma[:, :, None]
        np.clip(rgb, 0, 255, out=rgb)
    if gamma != 1.0:
        col = x[:, :, :_colour_channels(x.shape[2])]
        np.clip(col, 0, 255, out=col)
        col /= 255
        np.power(col, np.float32(1.0 / gamma), out=col)
        col *= 255


def _colour_stage(image: np.ndarray, s: PostProcess, notes: list[str]) -> np.ndarray:
    """Levels, saturation, gamma at source resolution: uint8 for 8-bit output (rounded exactly
    as GANscapes), float32 0..255 for 16-bit (unrounded)."""
    pct: tuple[float, float] | None = None
    if s.levels is not None:
        pct = s.levels
        notes.append(f"levels {pct[0]:g} / {pct[1]:g} percentiles")
        if s.auto_levels:
            notes.append("auto-levels not applied: explicit levels take precedence")
    elif s.auto_levels:
        pct = AUTO_LEVELS_PERCENTILES
        notes.append(f"auto-levels ({pct[0]:g} / {pct[1]:g} percentiles)")
    colour_ops = s.saturation != 1.0 or s.gamma != 1.0
    if s.saturation != 1.0:
        if image.shape[2] < 3:
            notes.append("saturation ignored: grayscale image")
        else:
            notes.append(f"saturation x{s.saturation:g}")
    if s.gamma != 1.0:
        notes.append(f"gamma {s.gamma:g}")
    if s.bit_depth == 8 and not colour_ops:
        return levels(image, *pct) if pct is not None else image
    x = _levels_float(image, *pct) if pct is not None else image.astype(np.float32)
    _saturation_gamma(x, s.saturation, s.gamma)
    if s.bit_depth == 8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x


# ---------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class _Plan:
    crop: tuple[int, int, int, int] | None   # (left, top, right, bottom) in the source
    content: tuple[int, int]                 # size the (cropped) source is resampled to
    canvas: tuple[int, int]                  # output size
    offset: tuple[int, int]                  # where the content sits on the canvas
    description: str | None


def _plan(src_w: int, src_h: int, s: PostProcess) -> _Plan:
    if src_w < 1 or src_h < 1:
        raise ValueError(f"source size must be positive, got {src_w}x{src_h}")
    t = s.target_ratio()
    w, h = src_w, src_h
    crop = None
    description = None
    shape_w, shape_h = w, h
    if t is not None:
        label = "1:1" if s.aspect == 1.0 or t == 1.0 else f"{max(t, 1 / t):.4g}:1 {'landscape' if t >= 1 else 'portrait'}"
        if s.mode == "crop":
            if w / h > t:
                cw = max(1, min(w, round_half_up(h * t)))
                crop = ((w - cw) // 2, 0, (w - cw) // 2 + cw, h)
            else:
                ch = max(1, min(h, round_half_up(w / t)))
                crop = (0, (h - ch) // 2, w, (h - ch) // 2 + ch)
            if crop == (0, 0, w, h):
                crop = None
            else:
                description = f"centre-cropped {w}x{h} to {label} ({crop[2] - crop[0]}x{crop[3] - crop[1]})"
                lost = 1 - (crop[2] - crop[0]) * (crop[3] - crop[1]) / (w * h)
                if lost > CROP_WARNING:
                    description += (f"; this discards {lost:.0%} of the picture: check the orientation, or "
                                    "pad instead of cropping")
            shape_w, shape_h = (crop[2] - crop[0], crop[3] - crop[1]) if crop else (w, h)
        else:   # stretch and pad grow one side
            if w / h < t:
                shape_w, shape_h = max(w, round_half_up(h * t)), h
            else:
                shape_w, shape_h = w, max(h, round_half_up(w / t))
            if (shape_w, shape_h) != (w, h):
                verb = "stretched" if s.mode == "stretch" else "padded"
                description = f"{verb} {w}x{h} to {label}"
    ratio = t if t is not None else shape_w / shape_h
    if s.size is not None:
        canvas = s.size
    elif s.long_side is not None:
        L = s.long_side
        canvas = (L, max(1, round_half_up(L / ratio))) if ratio >= 1 else (max(1, round_half_up(L * ratio)), L)
    else:
        canvas = (shape_w, shape_h)
    cw, ch = (crop[2] - crop[0], crop[3] - crop[1]) if crop else (w, h)
    if s.mode == "pad" and t is not None:
        scale = min(canvas[0] / cw, canvas[1] / ch)
        content = (max(1, min(canvas[0], round_half_up(cw * scale))), max(1, min(canvas[1], round_half_up(ch * scale))))
        offset = ((canvas[0] - content[0]) // 2, (canvas[1] - content[1]) // 2)
    else:
        content, offset = canvas, (0, 0)
    return _Plan(crop, content, canvas, offset, description)


def output_size(src_w: int, src_h: int, settings: PostProcess) -> tuple[int, int]:
    """The (width, height) ``apply`` produces for a ``src_w`` x ``src_h`` image, without doing it."""
    return _plan(src_w, src_h, settings).canvas


# ---------------------------------------------------------------------------------------------
# Resampling and sharpening in strips

_STRIP_PIXELS = 4_000_000
"""Output pixels per strip (per channel); about 330 rows of a 12000 px wide image."""


def _strip_rows(width: int) -> int:
    return max(16, _STRIP_PIXELS // max(1, width))


def _sharpen_sigma(scale: float) -> float:
    """Unsharp-mask radius (Gaussian sigma, output pixels) for a linear upscale factor: detail
    lost to an upscale is about as wide as the factor, so half of it, within 1..4 px."""
    return float(min(4.0, max(1.0, 0.5 * scale)))


def _halo(sigma: float) -> int:
    """Extra rows above and below a strip so that blurring it matches blurring the whole image."""
    return int(math.ceil(4 * sigma)) + 4


_PIL_MODES = {1: "L", 2: "La", 3: "RGB", 4: "RGBa"}   # premultiplied alpha for resampling


def _to_pil_u8(src: np.ndarray, premultiply: bool) -> Image.Image:
    """A Pillow image of uint8 [h, w, C]: L, RGB, or LA / RGBA (La / RGBa when premultiplied)."""
    c = src.shape[2]
    if c == 1:
        return Image.fromarray(np.ascontiguousarray(src[:, :, 0]))
    image = Image.fromarray(np.ascontiguousarray(src))   # RGB, LA or RGBA
    return image.convert(_PIL_MODES[c]) if premultiply and c in (2, 4) else image


def _resample_u8(src: np.ndarray, size: tuple[int, int], out: np.ndarray, amount: float,
                 sigma: float, tick: Callable[[float], None]) -> None:
    """Lanczos-resample uint8 ``src`` [h, w, C] to ``size`` into ``out`` [H, W, C], with an
    optional unsharp mask on the colour channels.

    The two passes are run explicitly: the horizontal one once over the whole (small) source,
    the vertical one strip by strip (Pillow's ``box`` keeps each strip's filter taps where the
    whole-image resize has them). Pillow picks the pass order itself when both change, and the
    order decides where the uint8 intermediate is clipped, so leaving it to Pillow would make
    strips disagree with each other."""
    h, w, c = src.shape
    W, H = size
    if (W, H) == (w, h) and amount == 0.0:
        out[...] = src
        return
    resize = (W, H) != (w, h)
    pil = _to_pil_u8(src, premultiply=resize)
    inter = pil.resize((W, h), Image.Resampling.LANCZOS) if W != w else pil
    del pil
    halo = _halo(sigma) if amount else 0
    unsharp = ImageFilter.UnsharpMask(radius=sigma, percent=int(round(amount * 100)), threshold=0)
    nc = _colour_channels(c)
    sy = h / H
    rows = _strip_rows(W)
    for a in range(0, H, rows):
        b = min(H, a + rows)
        a0, b0 = max(0, a - halo), min(H, b + halo)
        if H != h:
            part = inter.resize((W, b0 - a0), Image.Resampling.LANCZOS, box=(0, a0 * sy, W, b0 * sy))
        else:
            part = inter.crop((0, a0, W, b0))
        if part.mode in ("La", "RGBa"):
            part = part.convert("LA" if c == 2 else "RGBA")
        if amount:
            if c in (1, 3):
                part = part.filter(unsharp)
            else:
                bands = part.split()
                colour = bands[0] if nc == 1 else Image.merge("RGB", bands[:3])
                sharp = colour.filter(unsharp).split()
                part = Image.merge(part.mode, (*sharp, bands[-1]))
        arr = np.asarray(part).reshape(b0 - a0, W, c)
        out[a:b] = arr[a - a0: b - a0]
        tick(b / H)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps out to 3 sigma (float64)."""
    radius = int(math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _unsharp_float(x: np.ndarray, amount: float, sigma: float, rows: slice) -> np.ndarray:
    """Unsharp mask ``x + amount (x - gaussian(x))`` of float32 [C, n, W], edges replicated,
    returned for ``rows`` only (the strip without its halo).

    The separable Gaussian is a sum of shifted slices, symmetric taps paired, in PyTorch
    (multi-threaded, imported here since only 16-bit sharpening needs it): a convolution
    layer would build an im2col buffer of taps x strip (~0.5 GB for a 12000 px strip)."""
    import torch
    import torch.nn.functional as F

    k = _gaussian_kernel(sigma)
    r = (len(k) - 1) // 2
    c, n, w = x.shape
    start, stop = rows.start or 0, n if rows.stop is None else rows.stop
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x))
        # horizontal pass over the rows the vertical pass needs
        lo, hi = max(0, start - r), min(n, stop + r)
        p = F.pad(t[None, :, lo:hi], (r, r, 0, 0), mode="replicate")[0]
        h = p[:, :, r:r + w] * float(k[r])
        tmp = torch.empty_like(h)
        for i in range(r):
            torch.add(p[:, :, i:i + w], p[:, :, 2 * r - i:2 * r - i + w], out=tmp)
            h.add_(tmp, alpha=float(k[i]))
        del p
        # vertical pass for the wanted rows, replicating the strip's real edges
        q = F.pad(h[None], (0, 0, r - (start - lo), r - (hi - stop)), mode="replicate")[0]
        del h
        m = stop - start
        v = q[:, r:r + m] * float(k[r])
        tmp = torch.empty_like(v)
        for i in range(r):
            torch.add(q[:, i:i + m], q[:, 2 * r - i:2 * r - i + m], out=tmp)
            v.add_(tmp, alpha=float(k[i]))
        del q, tmp
        core = t[:, start:stop]
        # x + amount (x - blur) = (1 + amount) x - amount blur
        v.mul_(-amount).add_(core, alpha=1.0 + amount)
        return v.numpy()


def _float_bands(src: np.ndarray) -> list[Image.Image]:
    """Pillow "F" images of each channel of float32 ``src`` [h, w, C] (0..255), the colour
    premultiplied by alpha when there is an alpha channel (as Pillow does for 8-bit RGBA)."""
    c = src.shape[2]
    nc = _colour_channels(c)
    bands = []
    for i in range(c):
        plane = src[:, :, i]
        if c in (2, 4) and i < nc:
            plane = plane * (src[:, :, nc] / np.float32(255))
        bands.append(Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32)))
    return bands


def _resample_f32(bands: list[Image.Image], size: tuple[int, int], out: np.ndarray, amount: float,
                  sigma: float, tick: Callable[[float], None]) -> None:
    """Lanczos-resample float channel images (``_float_bands``) to ``size`` into uint16 ``out``
    [H, W, C], strip by strip and channel by channel straight from the source (in float there
    is no intermediate rounding, so Pillow's choice of pass order changes nothing); alpha is
    un-premultiplied; optional unsharp mask on the colour channels; ``round(x * 257)``.
    Only strips are ever float32 at full width."""
    w, h = bands[0].size
    c = len(bands)
    W, H = size
    nc = _colour_channels(c)
    alpha = c in (2, 4)
    halo = _halo(sigma) if amount else 0
    sy = h / H
    rows = _strip_rows(W)
    for a in range(0, H, rows):
        b = min(H, a + rows)
        a0, b0 = max(0, a - halo), min(H, b + halo)
        if (W, H) != (w, h):
            box = (0, a0 * sy, w, b0 * sy)
            strip = np.stack([np.asarray(im.resize((W, b0 - a0), Image.Resampling.LANCZOS, box=box))
                              for im in bands])
        else:
            strip = np.stack([np.asarray(im.crop((0, a0, w, b0))) for im in bands])
        if alpha:
            a_plane = np.clip(strip[nc], 0, 255)
            strip[nc] = a_plane
            scale = np.divide(np.float32(255), a_plane, out=np.zeros_like(a_plane), where=a_plane > 1e-3)
            strip[:nc] *= scale
            del a_plane, scale
        core = slice(a - a0, b - a0)
        if amount:
            sharp = _unsharp_float(strip[:nc], amount, sigma, core)
            strip = strip[:, core]
            strip[:nc] = sharp
            del sharp
        else:
            strip = strip[:, core]
        for i in range(c):
            part = strip[i]
            part *= 257
            np.rint(part, out=part)
            np.clip(part, 0, 65535, out=part)
            out[a:b, :, i] = part
        del strip
        tick(b / H)


# ---------------------------------------------------------------------------------------------
# ONNX super-resolution



_SR_MAX_PIXELS = {8: 64_000_000, 16: 24_000_000}
"""Largest super-resolution output held in memory (uint8 for 8-bit exports, float32 for
16-bit); a larger one is avoided by shrinking the source (Lanczos) before the model."""


def _super_resolve(src: np.ndarray, upscaler: OnnxUpscaler, bit_depth: int, notes: list[str],
                   tick: Callable[[float], None]) -> np.ndarray:
    """Run the model on the colour of ``src`` [h, w, C] into a new [s*h, s*w, C] array (uint8
    for 8-bit output, float32 0..255 for 16-bit); alpha follows by Lanczos; grayscale goes
    through as RGB and comes back as luma."""
    h, w, c = src.shape
    s = upscaler.scale
    budget = _SR_MAX_PIXELS[bit_depth]
    if h * w * s * s > budget:
        f = math.sqrt(budget / (h * w * s * s))
        nw, nh = max(1, int(w * f)), max(1, int(h * f))
        notes.append(f"source reduced to {nw}x{nh} before the x{s} model to bound memory")
        src = _resize_any(src, (nw, nh))
        h, w = nh, nw
    nc = _colour_channels(c)
    dtype = np.float32 if bit_depth == 16 else np.uint8
    big = np.empty((h * s, w * s, c), dtype)
    if nc == 1:
        rgb = upscaler.upscale(np.repeat(src[:, :, :1], 3, axis=2), tick)
        luma = rgb @ np.asarray(_LUMA, dtype=np.float32)
        del rgb
        big[:, :, 0] = np.rint(luma) if dtype == np.uint8 else luma
    else:
        upscaler.upscale(src[:, :, :3], tick, out=big[:, :, :3])
    if c in (2, 4):
        big[:, :, nc] = _resize_any(src[:, :, nc:nc + 1], (w * s, h * s))[:, :, 0]
    return big


def _resize_any(src: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Plain whole-image Lanczos of a small uint8 or float32 [h, w, C] array (per channel)."""
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(src[:, :, i])).resize(size, Image.Resampling.LANCZOS))
              for i in range(src.shape[2])]
    out = np.stack(planes, axis=2)
    if src.dtype == np.float32:
        return np.clip(out, 0, 255)
    return out


# ---------------------------------------------------------------------------------------------
# The chain


def _fill_pad(out: np.ndarray, plan: _Plan, colour: tuple[int, ...]) -> None:
    """Paint the canvas outside the content rectangle."""
    (W, H), (cw, ch), (ox, oy) = plan.canvas, plan.content, plan.offset
    value = np.asarray(colour, dtype=out.dtype)
    if oy > 0:
        out[:oy] = value
    if oy + ch < H:
        out[oy + ch:] = value
    if ox > 0:
        out[oy:oy + ch, :ox] = value
    if ox + cw < W:
        out[oy:oy + ch, ox + cw:] = value


def _pad_value(colour: tuple[int, int, int], channels: int, bit_depth: int) -> tuple[int, ...]:
    r, g, b = colour
    if channels in (1, 2):
        values: tuple[int, ...] = (round_half_up(r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]),)
    else:
        values = (r, g, b)
    if channels in (2, 4):
        values += (255,)
    return tuple(v * 257 for v in values) if bit_depth == 16 else values


def _check_memory(canvas: tuple[int, int], channels: int, bit_depth: int) -> None:
    """Refuse an output that could not fit in the memory free now (the chain holds the output and a
    few strips; a margin covers the rest), before anything is allocated."""
    from studio.core.memory import available_bytes, human

    need = canvas[0] * canvas[1] * channels * (2 if bit_depth == 16 else 1)
    free = available_bytes()
    if free is not None and need * PEAK_FACTOR > free:
        raise StudioError(f"a {canvas[0]:,} x {canvas[1]:,} px image needs about {human(need * PEAK_FACTOR)} and only "
                          f"{human(free)} of memory is free for it: choose a smaller size or a lower DPI")


def apply(image: np.ndarray, settings: PostProcess, *, progress: ProgressFn | None = None) -> PostResult:
    """Run the whole post-processing chain on a uint8 image ([H, W] or [H, W, C]).

    Returns a new array of ``output_size(W, H, settings)`` pixels, same channel layout, uint8
    (or uint16 for ``bit_depth=16``), the resampler that produced it (``'none'``,
    ``'lanczos'``, ``'lanczos+sharpen'``, ``'sharpen'``,
    ``'onnx:model.onnx (CPUExecutionProvider)+lanczos'``...) and notes on what was done.
    ``progress(fraction, stage)`` is called along the way; an exception it raises aborts.
    """
    src = _check_image(image)
    if not isinstance(settings, PostProcess):
        raise TypeError(f"settings must be a PostProcess, got {type(settings).__name__}")
    report: ProgressFn = progress or (lambda fraction, stage: None)
    notes: list[str] = []
    if settings.is_identity:
        report(1.0, "done")
        return PostResult(image.copy(), "none", ["no post-processing"])

    h, w, c = src.shape
    plan = _plan(w, h, settings)
    _check_memory(plan.canvas, c, settings.bit_depth)
    has_sr = settings.upscaler.startswith("onnx:")
    sr_share = 0.4 if has_sr else 0.0

    report(0.0, "levels and colour")
    x = _colour_stage(src, settings, notes)
    if plan.crop is not None:
        left, top, right, bottom = plan.crop
        x = x[top:bottom, left:right]
    if plan.description:
        notes.append(plan.description)
    report(0.1, "resizing")

    ch, cw = x.shape[:2]
    content_w, content_h = plan.content
    scale = max(content_w / cw, content_h / ch)
    stages: list[str] = []
    if has_sr and scale > 1.0:
        upscaler = load_upscaler(settings.upscaler[5:].strip())
        notes.extend(upscaler.notes)
        report(0.1, f"super-resolution ({upscaler.name} x{upscaler.scale}, {upscaler.provider})")
        x = _super_resolve(x, upscaler, settings.bit_depth, notes,
                           lambda f: report(0.1 + sr_share * f, "super-resolution"))
        notes.append(f"{upscaler.name} upscaled x{upscaler.scale} on {upscaler.provider}")
        stages.append(upscaler.describe())
    elif has_sr:
        notes.append("ONNX upscaler not used: the output is not larger than the source")
    if (content_w, content_h) != (x.shape[1], x.shape[0]):
        stages.append("lanczos")
        notes.append(f"Lanczos {x.shape[1]}x{x.shape[0]} -> {content_w}x{content_h}")
    sigma = _sharpen_sigma(scale)
    if settings.sharpen:
        stages.append("sharpen")
        notes.append(f"unsharp mask amount {settings.sharpen:g}, radius {sigma:g} px")

    W, H = plan.canvas
    dtype = np.uint16 if settings.bit_depth == 16 else np.uint8
    out = np.empty((H, W, c), dtype)
    if plan.content != plan.canvas:
        _fill_pad(out, plan, _pad_value(settings.pad_color, c, settings.bit_depth))
        notes.append(f"pad colour #{''.join(f'{v:02x}' for v in settings.pad_color)}")
    ox, oy = plan.offset
    view = out[oy:oy + content_h, ox:ox + content_w]
    base = 0.1 + sr_share
    tick = lambda f: report(base + (1.0 - base) * f, "resizing")  # noqa: E731
    if settings.bit_depth == 16:
        bands = _float_bands(x)
        del x   # the float source lives on only as Pillow channel images
        _resample_f32(bands, (content_w, content_h), view, settings.sharpen, sigma, tick)
        notes.append("16-bit output")
    else:
        _resample_u8(x, (content_w, content_h), view, settings.sharpen, sigma, tick)
    report(1.0, "done")
    if image.ndim == 2:
        out = out.reshape(H, W)
    return PostResult(out, "+".join(stages) or "none", notes)
