"""Low-level operations shared by the networks, in plain PyTorch (no compiled extensions).

Conventions follow StyleGAN2-ADA so that weights trained there produce the same images here:

* ``upfirdn2d`` is a true convolution with an FIR filter (the filter is flipped), applied
  after zero-insertion upsampling and padding, followed by keeping every ``down``-th pixel.
* Resampling filters are 2-D and normalised to sum 1; upsampling multiplies by ``up**2``.
* Leaky ReLU uses slope 0.2 and a gain of sqrt(2); clamping happens after the gain.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)
LRELU_SLOPE = 0.2

# Gain each activation needs to preserve the signal's magnitude (``def_gain`` in the paper's code).
ACTIVATION_GAINS = {"linear": 1.0, "lrelu": SQRT2}


# Seamless tiles: while set, the layers that support it convolve and resample circularly, so the
# image they make is one period of a texture (its right edge continues into its left).
_TILING: contextvars.ContextVar[bool] = contextvars.ContextVar("studio_tiling", default=False)


@contextlib.contextmanager
def tiling(on: bool = True) -> Iterator[None]:
    """Render periodic images inside this block (see :func:`is_tiling`)."""
    token = _TILING.set(bool(on))
    try:
        yield
    finally:
        _TILING.reset(token)


def is_tiling() -> bool:
    return _TILING.get()


# Native canvases: while set, a StyleGAN2's 4x4 constant is widened to (height, width) units of 4 px
# at 4x4 (so the image is res * width / 4 by res * height / 4), by "repeat", "reflect" or "interpolate".
_CANVAS: contextvars.ContextVar[tuple[int, int, str] | None] = contextvars.ContextVar("studio_canvas", default=None)
CANVAS_MODES = ("reflect", "repeat", "interpolate")


@contextlib.contextmanager
def canvas(units: tuple[int, int] | None, mode: str = "reflect") -> Iterator[None]:
    """Render at ``units`` = (width, height) quarters of the trained square's side (None: the square)."""
    if mode not in CANVAS_MODES:
        raise ValueError(f"canvas mode must be one of {', '.join(CANVAS_MODES)}, got {mode!r}")
    token = _CANVAS.set(None if units is None or tuple(units) == (4, 4) else (int(units[0]), int(units[1]), mode))
    try:
        yield
    finally:
        _CANVAS.reset(token)


def canvas_units() -> tuple[int, int, str] | None:
    return _CANVAS.get()


# Half precision for the high resolutions (GPUs): while set, the synthesis blocks of this resolution
# and above compute in float16, as NVIDIA's networks do with num_fp16_res (their conv_clamp keeps
# the activations in float16's range); the running image stays float32.
_HALF_FROM: contextvars.ContextVar[int | None] = contextvars.ContextVar("studio_half_from", default=None)


@contextlib.contextmanager
def half_from(resolution: int | None) -> Iterator[None]:
    """Compute the blocks of ``resolution`` px and above in float16 inside this block (None: none)."""
    token = _HALF_FROM.set(resolution)
    try:
        yield
    finally:
        _HALF_FROM.reset(token)


def block_dtype(resolution: int, default: torch.dtype) -> torch.dtype:
    """The dtype a synthesis block of ``resolution`` px computes in (see :func:`half_from`)."""
    start = _HALF_FROM.get()
    return torch.float16 if start is not None and resolution >= start else default


def widen(x: torch.Tensor, height: int, width: int, mode: str) -> torch.Tensor:
    """A [N, C, h, w] map carried to [N, C, height, width]: mirrored, repeated or resampled beyond its edges."""
    h, w = x.shape[-2:]
    if (height, width) == (h, w):
        return x
    if mode == "interpolate":
        return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)
    if mode == "repeat":                    # periodic: the map tiled, the original centred
        rows = (torch.arange(height, device=x.device) - (height - h) // 2) % h
        cols = (torch.arange(width, device=x.device) - (width - w) // 2) % w
        return x[..., rows[:, None], cols[None, :]]
    out = x
    while out.shape[-2] < height or out.shape[-1] < width:      # grow in steps the padding modes allow
        dh = min(max(height - out.shape[-2], 0), out.shape[-2] - 1)
        dw = min(max(width - out.shape[-1], 0), out.shape[-1] - 1)
        pad = [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2]
        out = F.pad(out, pad, mode="reflect")
    top, left = (out.shape[-2] - height) // 2, (out.shape[-1] - width) // 2
    return out[..., top:top + height, left:left + width]


def circular(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Wrap ``pad`` pixels of each edge around to the other side (a periodic extension)."""
    return F.pad(x, [pad, pad, pad, pad], mode="circular")


def assert_shape(tensor: torch.Tensor | None, shape: Sequence[int | None], what: str) -> None:
    """Check a tensor where two modules meet: ``shape`` lists each dimension's size, None for any.

    Raises ValueError naming the tensor and both shapes, so a network assembled from a file with
    mismatched parts fails at the seam rather than deep inside a convolution.
    """
    if tensor is None:
        raise ValueError(f"{what} is missing (expected a tensor of shape {_shape_text(shape)})")
    if tensor.ndim != len(shape) or any(want is not None and want != got for want, got in zip(shape, tensor.shape)):
        raise ValueError(f"{what} must have shape {_shape_text(shape)}, got {list(tensor.shape)}")


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("N" if size is None else str(size) for size in shape) + "]"


def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """A separable 2-D FIR filter from 1-D taps, normalised to sum 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _separable_factors(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Return (column, row) 1-D filters whose outer product is ``f``, or None if ``f`` is not rank 1."""
    total = f.sum()
    if f.ndim != 2 or float(total) == 0.0:
        return None
    col, row = f.sum(dim=1), f.sum(dim=0) / total
    if not torch.allclose(torch.outer(col, row), f, rtol=1e-5, atol=1e-7):
        return None
    return col, row


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample (zero insertion), pad, convolve with FIR filter ``f``, downsample.

    ``padding`` is (x0, x1, y0, y1); negative values crop. ``gain`` scales the filter
    (applied once per dimension for separable filters, i.e. a 2-D filter gets ``gain``).
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    if max(px0, px1, py0, py1) > 0:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    if min(px0, px1, py0, py1) < 0:
        x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]

    c = int(x.shape[1])              # a constant even when traced (ONNX needs the kernels' shapes)
    f = f.to(device=x.device, dtype=x.dtype) * gain
    f = f.flip(list(range(f.ndim)))  # convolution, not correlation
    factors = _separable_factors(f) if f.shape[0] > 2 else None
    if factors is not None:
        col, row = factors
        x = F.conv2d(x, row.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c, stride=(1, down))
        x = F.conv2d(x, col.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c, stride=(down, 1))
        return x
    x = F.conv2d(x, f[None, None].expand(c, 1, *f.shape), groups=c, stride=down)
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2, gain: float = 1.0) -> torch.Tensor:
    """Upsample by ``up`` with filter ``f``, keeping the image centred (output = up * input)."""
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=gain * up * up)


def upsample2d_any(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``upsample2d`` by 2, wrapping around the edges while :func:`is_tiling` (a periodic image stays one)."""
    if not is_tiling():
        return upsample2d(x, f)
    h, w = x.shape[2] * 2, x.shape[3] * 2
    return upsample2d(circular(x, 2), f)[:, :, 4:4 + h, 4:4 + w]


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """Downsample by ``down`` with filter ``f`` (output = input / down)."""
    fw = f.shape[-1]
    p0, p1 = (fw - down + 1) // 2, (fw - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """``clamp(act(x + b) * gain)`` with the activation's default gain when ``gain`` is None."""
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    if gain is None:
        gain = ACTIVATION_GAINS[act]
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (the 'pixel norm' of the mapping network)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
) -> torch.Tensor:
    """2-D convolution (correlation, like ``F.conv2d``) combined with FIR up/downsampling.

    Upsampling uses a stride-2 transposed convolution followed by the filter, downsampling the
    filter followed by a strided convolution, exactly as StyleGAN2 does; 1x1 kernels skip the
    expensive paths.
    """
    out_ch, in_ch, kh, kw = w.shape
    fw = f.shape[-1] if f is not None else 1
    p0 = p1 = padding
    if up > 1:
        p0 += (fw + up - 1) // 2
        p1 += (fw - up) // 2
    if down > 1:
        p0 += (fw - down + 1) // 2
        p1 += (fw - down) // 2

    if kw == 1 and kh == 1:
        if down > 1 and up == 1:
            x = upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))
            return F.conv2d(x, w)
        if up > 1 and down == 1:
            x = F.conv2d(x, w)
            return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=(p0, p1, p0, p1))
        return F.conv2d(x, w, stride=down)
    if up > 1:
        # Transposed conv: the kernel is used unflipped, as in the reference implementations.
        p0 -= kw - 1
        p1 -= kw - up
        pt = max(min(-p0, -p1), 0)
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=up, padding=pt)
        x = upfirdn2d(x, f, padding=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
        if down > 1:
            x = upfirdn2d(x, f, down=down)
        return x
    if p0 == p1 and p0 >= 0:
        return F.conv2d(x, w, padding=p0)
    x = upfirdn2d(x, f if f is not None else torch.ones(1, 1), padding=(p0, p1, p0, p1))
    return F.conv2d(x, w)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool = True,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    fused: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """StyleGAN2's modulated convolution, without the noise/bias/activation tail.

    Returns the convolution output *before* demodulation together with the per-sample,
    per-output-channel demodulation coefficients (None when ``demodulate`` is False), so the
    caller can fold them into the elementwise tail. ``fused`` selects per-sample modulated
    weights (best for batch 1) or a shared weight with scaled activations (best for batches);
    None picks by batch size.
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    dcoefs = None
    if demodulate:
        # sum_{i,k} (W[o,i,k] s[i])^2 == (s^2) @ (sum_k W[o,i,k]^2)^T
        wsq = weight.square().sum(dim=[2, 3])  # [out, in]
        dcoefs = (styles.square() @ wsq.t() + 1e-8).rsqrt()  # [n, out]
    if fused is None:
        fused = n == 1
    if fused:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)
        if n == 1:
            return conv2d_resample(x, w[0], resample_filter, up=up, padding=padding), dcoefs
        w = w.reshape(n * out_ch, in_ch, kh, kw)
        y = _grouped_conv_resample(x.reshape(1, n * in_ch, *x.shape[2:]), w, n, resample_filter, up, padding)
        return y.reshape(n, out_ch, *y.shape[2:]), dcoefs
    x = x * styles.to(x.dtype).reshape(n, in_ch, 1, 1)
    return conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, padding=padding), dcoefs


def _grouped_conv_resample(x, w, groups, f, up, padding):
    """Grouped version of the two paths ``modulated_conv2d`` needs (1x1 / 3x3, up 1 / 2)."""
    if up == 1:
        return F.conv2d(x, w, padding=padding, groups=groups)
    out_total, in_per_group, kh, kw = w.shape
    fw = f.shape[-1]
    p0 = padding + (fw + up - 1) // 2 - (kw - 1)
    p1 = padding + (fw - up) // 2 - (kw - up)
    # transposed conv weight: [in, out/groups, kh, kw] per group
    wt = w.reshape(groups, out_total // groups, in_per_group, kh, kw).transpose(1, 2)
    wt = wt.reshape(groups * in_per_group, out_total // groups, kh, kw)
    pt = max(min(-p0, -p1), 0)
    x = F.conv_transpose2d(x, wt, stride=up, padding=pt, groups=groups)
    return upfirdn2d(x, f, padding=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
